//! The entities under readable names, plus the string enums: `use entity::prelude::*;`.

pub use crate::daily_price::Entity as DailyPrice;
pub use crate::daily_return::Entity as DailyReturn;
pub use crate::enums::*;
pub use crate::instrument_master::Entity as InstrumentMaster;
pub use crate::model_version_registry::Entity as ModelVersionRegistry;
pub use crate::portfolio_allocation::Entity as PortfolioAllocation;
pub use crate::portfolio_model::Entity as PortfolioModel;
pub use crate::scenario_definition::Entity as ScenarioDefinition;
pub use crate::simulation_path::Entity as SimulationPath;
pub use crate::simulation_run::Entity as SimulationRun;
pub use crate::simulation_run_instrument::Entity as SimulationRunInstrument;
pub use crate::simulation_summary::Entity as SimulationSummary;
pub use crate::source_load_history::Entity as SourceLoadHistory;
