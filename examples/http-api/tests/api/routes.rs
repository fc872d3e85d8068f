//! What the router answers outside its routes: the error envelope, never an empty body.

use foresto::testing::TestDatabase;
use reqwest::Method;

use crate::support::Api;

#[tokio::test]
async fn unknown_routes_and_methods_get_the_envelope() {
    let t = TestDatabase::migrated().await;
    let api = Api::on(t.conn()).await;
    let missing = api.get("/api/v1/nothing").await;
    assert_eq!((missing.status, missing.code()), (404, "no_route"));
    let wrong = api.request(Method::DELETE, "/api/v1/scenarios").await;
    assert_eq!((wrong.status, wrong.code()), (405, "method_not_allowed"));
}
