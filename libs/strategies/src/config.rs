//! Configuration plumbing shared by the built-in strategies: the error type
//! every config problem becomes ([`StrategyConfigError`]), TOML parsing with
//! the field named in every message, and serde helpers that read prices and
//! quantities as exact decimals (strings or whole numbers, never floats).

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use veloz_core::{FixedError, Instrument, InstrumentId, Price, Quantity};

/// Why a strategy could not be built from its configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrategyConfigError {
    /// No strategy has this name.
    #[error("unknown strategy {name:?}; the built-in strategies are: {known}")]
    UnknownStrategy {
        /// The name asked for.
        name: String,
        /// The names that exist, comma separated.
        known: String,
    },
    /// The text is not valid TOML for this strategy (syntax, unknown or
    /// missing field, wrong type); the message names the field and line.
    #[error("{strategy} config: {message}")]
    Parse {
        /// Strategy name.
        strategy: &'static str,
        /// The parser's message (names the field).
        message: String,
    },
    /// A field has a value the strategy cannot use.
    #[error("{strategy} config: field `{field}`: {message}")]
    Invalid {
        /// Strategy name.
        strategy: &'static str,
        /// The offending field.
        field: &'static str,
        /// What is wrong and what is allowed.
        message: String,
    },
}

impl StrategyConfigError {
    /// The field a validation error is about (`None` for parse errors, whose
    /// message names the field itself).
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }
}

/// Builds an [`StrategyConfigError::Invalid`].
/// The instrument a strategy trades, as loaded in the run, or the reason it
/// cannot start (every strategy checks this in `on_start` and halts on it).
pub(crate) fn run_instrument(
    ctx: &veloz_runtime::Context<'_>,
    id: InstrumentId,
) -> Result<Instrument, String> {
    ctx.instrument(id)
        .cloned()
        .ok_or_else(|| format!("instrument {id} is not loaded in this run"))
}

pub(crate) fn invalid(
    strategy: &'static str,
    field: &'static str,
    message: impl Into<String>,
) -> StrategyConfigError {
    StrategyConfigError::Invalid {
        strategy,
        field,
        message: message.into(),
    }
}

/// Parses TOML text into a config struct, mapping errors to
/// [`StrategyConfigError::Parse`].
pub(crate) fn parse_toml<T: serde::de::DeserializeOwned>(
    strategy: &'static str,
    text: &str,
) -> Result<T, StrategyConfigError> {
    toml::from_str(text).map_err(|e| StrategyConfigError::Parse {
        strategy,
        message: e.to_string().trim_end().replace('\n', " | "),
    })
}

/// Checks that `instrument` is the one the config names.
pub(crate) fn check_instrument_id(
    strategy: &'static str,
    wanted: InstrumentId,
    instrument: &Instrument,
) -> Result<(), StrategyConfigError> {
    if instrument.id != wanted {
        return Err(invalid(
            strategy,
            "instrument",
            format!(
                "the config trades {wanted} but the rules given are for {}",
                instrument.id
            ),
        ));
    }
    Ok(())
}

/// Checks that an order quantity is on the instrument's step and within its
/// limits (`market`: use the market-order limits when the venue has them).
pub(crate) fn check_qty(
    strategy: &'static str,
    field: &'static str,
    qty: Quantity,
    instrument: &Instrument,
    market: bool,
) -> Result<(), StrategyConfigError> {
    let lot = match (market, &instrument.market_lot) {
        (true, Some(m)) => m,
        _ => &instrument.lot,
    };
    let snapped = instrument
        .snap_qty(qty)
        .map_err(|e| invalid(strategy, field, e.to_string()))?;
    if snapped != qty {
        return Err(invalid(
            strategy,
            field,
            format!(
                "{qty} is not a multiple of {}'s quantity step {}; use {snapped}",
                instrument.id, lot.step
            ),
        ));
    }
    if lot.min_qty.is_positive() && qty < lot.min_qty {
        return Err(invalid(
            strategy,
            field,
            format!(
                "{qty} is below {}'s minimum quantity {}",
                instrument.id, lot.min_qty
            ),
        ));
    }
    if lot.max_qty.is_positive() && qty > lot.max_qty {
        return Err(invalid(
            strategy,
            field,
            format!(
                "{qty} is above {}'s maximum quantity {}",
                instrument.id, lot.max_qty
            ),
        ));
    }
    Ok(())
}

/// Checks `qty` at `price` against the instrument's minimum notional.
pub(crate) fn check_notional(
    strategy: &'static str,
    field: &'static str,
    qty: Quantity,
    price: Price,
    instrument: &Instrument,
) -> Result<(), StrategyConfigError> {
    let Some(min) = instrument.min_notional else {
        return Ok(());
    };
    let n = instrument
        .notional(price, qty)
        .map_err(|e| invalid(strategy, field, e.to_string()))?;
    if n < min {
        return Err(invalid(
            strategy,
            field,
            format!(
                "{qty} at {price} is a notional of {n}, below {}'s minimum notional {min}; use a larger quantity",
                instrument.id
            ),
        ));
    }
    Ok(())
}

struct DecimalVisitor(&'static str);

impl Visitor<'_> for DecimalVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a {} as a decimal string such as \"61737.5\" or a whole number",
            self.0
        )
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.to_owned())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // Only formatted back into the message: the value is refused.
        Err(E::custom(format!(
            "{v} is a floating-point number; write the {} as a string, e.g. \"{v}\", so that it is read exactly",
            self.0
        )))
    }
}

fn decimal_text<'de, D: Deserializer<'de>>(d: D, what: &'static str) -> Result<String, D::Error> {
    d.deserialize_any(DecimalVisitor(what))
}

fn fixed_err<E: de::Error>(e: FixedError) -> E {
    E::custom(e)
}

/// Deserializes a [`Price`] from a decimal string or a whole number.
pub(crate) fn de_price<'de, D: Deserializer<'de>>(d: D) -> Result<Price, D::Error> {
    let s = decimal_text(d, "price")?;
    Price::parse(&s).map_err(fixed_err)
}

/// Deserializes a [`Quantity`] from a decimal string or a whole number.
pub(crate) fn de_qty<'de, D: Deserializer<'de>>(d: D) -> Result<Quantity, D::Error> {
    let s = decimal_text(d, "quantity")?;
    Quantity::parse(&s).map_err(fixed_err)
}
