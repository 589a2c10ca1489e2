//! `COSTJOB_<SECTION>_<KEY>` environment entries applied over the file (how
//! the ECS task passes settings).

use toml::Spanned;

use super::file::ConfigFile;
use crate::cost_basis::CostBasis;

/// A whole-number setting: sets it, returns its dotted key.
fn apply_number(
    file: &mut ConfigFile,
    name: &str,
    value: &str,
) -> std::result::Result<String, String> {
    let n: u64 = value
        .trim()
        .parse()
        .map_err(|_| format!("{value:?}: expected a whole number"))?;
    let days = || u32::try_from(n).map_err(|_| format!("{value:?}: too many days"));
    match name {
        "output_retain_superseded_hours" => file.output.retain_superseded_hours = n,
        "output_lease_seconds" => file.output.lease_seconds = n,
        "logs_max_line_bytes" => file.logs.max_line_bytes = n,
        "refresh_lookback_days" => file.refresh.lookback_days = days()?,
        "refresh_grace_days" => file.refresh.grace_days = days()?,
        "refresh_max_days" => file.refresh.max_days = days()?,
        _ => file.logs.max_objects_in_flight = Some(n as usize),
    }
    Ok(name.replacen('_', ".", 1))
}

/// Applies one `COSTJOB_<SECTION>_<KEY>` entry; returns the dotted key it set.
pub(super) fn apply_env(
    file: &mut ConfigFile,
    key: &str,
    value: &str,
) -> std::result::Result<String, String> {
    let name = key
        .strip_prefix("COSTJOB_")
        .ok_or("not a COSTJOB_ variable")?
        .to_ascii_lowercase();
    let v = value.to_string();
    let f = &mut file.logs.fields;
    let target: &mut String = match name.as_str() {
        "cur_source" => &mut file.cur.source,
        "cur_path" => &mut file.cur.path,
        "cur_database" => file.cur.database.get_or_insert_default(),
        "cur_table" => file.cur.table.get_or_insert_default(),
        "cur_workgroup" => file.cur.workgroup.get_or_insert_default(),
        "cur_output_location" => file.cur.output_location.get_or_insert_default(),
        "cur_query_timeout_s" => {
            file.cur.query_timeout_s = value
                .trim()
                .parse()
                .map_err(|_| format!("{value:?}: expected a whole number"))?;
            return Ok("cur.query_timeout_s".into());
        }
        "cur_accounts" => {
            file.cur.accounts = list(value);
            return Ok("cur.accounts".into());
        }
        "logs_path" => &mut file.logs.path,
        "logs_source" => &mut file.logs.source,
        "logs_database" => file.logs.database.get_or_insert_default(),
        "logs_table" => file.logs.table.get_or_insert_default(),
        "logs_format" => {
            file.logs.format = Spanned::new(0..0, v);
            return Ok("logs.format".into());
        }
        "logs_fields_transaction_id" => &mut f.transaction_id,
        "logs_fields_service" => &mut f.service,
        "logs_fields_flow" => &mut f.flow,
        "logs_fields_transaction_type" => &mut f.transaction_type,
        "logs_fields_route" => &mut f.route,
        "logs_fields_status" => &mut f.status,
        "logs_fields_duration_ms" => &mut f.duration_ms,
        "logs_fields_usage" => &mut f.usage,
        "logs_fields_timestamp" => &mut f.timestamp,
        "tags_transaction_type" => &mut file.tags.transaction_type,
        "tags_flow" => &mut file.tags.flow,
        "tags_service" => &mut file.tags.service,
        "output_path" => &mut file.output.path,
        "output_glue_database" => file.output.glue_database.get_or_insert_default(),
        "output_retain_superseded_hours"
        | "output_lease_seconds"
        | "logs_max_objects_in_flight"
        | "logs_max_line_bytes"
        | "refresh_lookback_days"
        | "refresh_grace_days"
        | "refresh_max_days" => return apply_number(file, &name, value),
        "pricing_path" => &mut file.pricing.path,
        "calendar_timezone" => &mut file.calendar.timezone,
        "allocation_cost_basis" => {
            file.allocation.cost_basis = CostBasis::parse(value).ok_or_else(|| {
                format!("{value:?}: expected unblended, amortized or net-amortized")
            })?;
            return Ok("allocation.cost_basis".into());
        }
        "allocation_exclude_line_item_types" => {
            file.allocation.exclude_line_item_types = list(value);
            return Ok("allocation.exclude_line_item_types".into());
        }
        "allocation_success_statuses" => {
            file.allocation.success_statuses = list(value);
            return Ok("allocation.success_statuses".into());
        }
        _ => return Err("no such setting (see the configuration reference in README.md)".into()),
    };
    *target = v;
    let (section, rest) = name.split_once('_').unwrap_or((&name, ""));
    let dotted = if section == "logs" && rest.starts_with("fields_") {
        format!("logs.fields.{}", &rest[7..])
    } else {
        format!("{section}.{rest}")
    };
    Ok(dotted)
}

/// A comma-separated list, each item trimmed, empty ones dropped.
fn list(value: &str) -> Vec<String> {
    (value.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}
