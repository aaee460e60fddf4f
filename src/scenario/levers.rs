//! `[levers]`: the scenario keys a what-if dashboard offers as controls, with their ranges:
//! `"carriers.carrier.rate" = { min = 10, max = 40, step = 1 }`. Each key must be a key the
//! registry (`schema.rs`) knows with a value one control can set (a number, rate, duration,
//! a word from a list, true/false); numbers are in the key's unit (per second for rates,
//! seconds for durations).

use super::reader::{describe, Obj, Result};
use super::schema::{self, Ty};

/// One lever: a key path and, for numeric keys, its range.
#[derive(Clone, Debug, PartialEq)]
pub struct LeverSpec {
    pub key: String,
    pub ty: Ty,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub step: Option<f64>,
    pub label: Option<String>,
}

/// Whether a control can set a key of type `ty`, and whether it is numeric.
pub fn settable(ty: &Ty) -> Option<bool> {
    match ty {
        Ty::Int { .. }
        | Ty::Num { .. }
        | Ty::Prob
        | Ty::Rate
        | Ty::Duration
        | Ty::Dist
        | Ty::Legs => Some(true),
        Ty::Choice(_) | Ty::Bool => Some(false),
        _ => None,
    }
}

pub fn build_levers(top: &Obj) -> Result<Vec<LeverSpec>> {
    let Some(l) = top.table_opt("levers")? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (key, v) in l.table {
        // The key is a dotted path written as one quoted key; the source map joins it with dots.
        let path = format!("levers.{key}");
        let Some(ty) = schema::lookup(key) else {
            return Err(l.ctx.err(&path, format!("`{key}` is not a scenario key (`callsim schema` lists them); expected a dotted key path such as \"carriers.NAME.rate\"")));
        };
        let Some(numeric) = settable(&ty) else {
            return Err(l.ctx.err(&path, format!("`{key}` holds a table or a list; a lever sets one number, rate, duration or word")));
        };
        let toml::Value::Table(t) = v else {
            return Err(l.ctx.err(
                &path,
                format!(
                    "expected a table such as {{ min = 10, max = 40, step = 1 }}, found {}",
                    describe(v)
                ),
            ));
        };
        let o = Obj::new(l.ctx, path.clone(), t);
        let spec = LeverSpec {
            key: key.clone(),
            ty,
            min: o.f64_opt("min")?,
            max: o.f64_opt("max")?,
            step: o.positive_f64_opt("step")?,
            label: o.str_opt("label")?.map(str::to_string),
        };
        o.finish(&[])?;
        if !numeric && (spec.min.is_some() || spec.max.is_some() || spec.step.is_some()) {
            return Err(o.err(
                "",
                format!("`{key}` takes a word or true/false: min, max and step do not apply"),
            ));
        }
        if let (Some(a), Some(b)) = (spec.min, spec.max) {
            if a >= b {
                return Err(o.err(
                    "max",
                    format!("expected max > min, found min {a} and max {b}"),
                ));
            }
        }
        out.push(spec);
    }
    Ok(out)
}
