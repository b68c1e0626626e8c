//! [`LeaseTable`]: the DynamoDB side of the leases. It owns the item layout (KCL's attribute
//! names plus ours for the checkpoint), the conditional writes, and the strict reading of
//! items back into [`Lease`]s.
//!
//! It decides nothing: which lease to take, when to renew, and what a lost condition means
//! for the reader of a stream are the taker's and the coordinator's business. It does not
//! retry a refused write either: a failed condition is an answer (`Ok(None)`/`Ok(false)`),
//! since retrying it with the same expected counter can only fail again.
//!
//! The item of a stream:
//!
//! | attribute                      | type | meaning                                        |
//! |--------------------------------|------|------------------------------------------------|
//! | `leaseKey`                     | S    | stream name, hash key                          |
//! | `leaseOwner`                   | S    | worker id; absent when nobody holds it         |
//! | `leaseCounter`                 | N    | bumped by every write; every write expects it  |
//! | `ownerSwitchesSinceCheckpoint` | N    | takes since the last checkpoint                |
//! | `checkpoint`                   | S    | continuation token of the last handled fragment|
//! | `fragmentNumber`               | S    | its fragment number                            |
//! | `producerTimestampMs`          | N    | its producer timestamp, optional               |
//! | `serverTimestampMs`            | N    | its server timestamp, optional                 |
//! | `inFlight`                     | S    | fragment handed out, not known handled         |
//! | `horizonMs`                    | N    | redelivery horizon, ms since the epoch         |
//!
//! The last six are absent when there is nothing to say; `fragmentNumber` and the
//! timestamps exist only alongside `checkpoint`.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ReturnValue,
    ScalarAttributeType, TableStatus,
};
use tracing::{debug, info};

use super::{Lease, WORKER_KEY_PREFIX};
use crate::Error;
use crate::checkpoint::{Checkpoint, Handled};

/// Attribute names of a lease item.
mod attr {
    pub(super) const KEY: &str = "leaseKey";
    pub(super) const OWNER: &str = "leaseOwner";
    pub(super) const COUNTER: &str = "leaseCounter";
    pub(super) const SWITCHES: &str = "ownerSwitchesSinceCheckpoint";
    pub(super) const TOKEN: &str = "checkpoint";
    pub(super) const FRAGMENT: &str = "fragmentNumber";
    pub(super) const PRODUCER_MS: &str = "producerTimestampMs";
    pub(super) const SERVER_MS: &str = "serverTimestampMs";
    pub(super) const IN_FLIGHT: &str = "inFlight";
    pub(super) const HORIZON_MS: &str = "horizonMs";
}

/// How long `open` waits for a table it created (or found being created) to become ACTIVE.
/// DynamoDB takes seconds for an on-demand table with no index.
const TABLE_ACTIVE_TIMEOUT: Duration = Duration::from_secs(120);
/// Between two DescribeTable calls while waiting.
const TABLE_POLL_INTERVAL: Duration = Duration::from_millis(500);
/// Attempts per call, for throttling and 5xx. The SDK configuration of a KVS reader has
/// retries off (its driver retries GetMedia itself); lease writes have no such driver.
const MAX_ATTEMPTS: u32 = 3;
/// One attempt, and one call with its retries. A lease write slower than this is of no use
/// to a renewal loop that runs every failover/3; without a bound, one hung connection
/// would stall every renewal behind it.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

type Item = HashMap<String, AttributeValue>;

/// The lease table: one item per stream, created on first use. Cheap to clone (the SDK
/// client is shared).
#[derive(Debug, Clone)]
pub struct LeaseTable {
    client: Client,
    table: String,
}

impl LeaseTable {
    /// Opens the table `table`, creating it (hash key `leaseKey`, on-demand billing) if it
    /// does not exist, and waits until it is ACTIVE (at most two minutes). Opening the same
    /// table from many workers at once is fine.
    ///
    /// Calls get up to 3 attempts and a 15 s bound whatever `sdk` says about retries;
    /// timeouts set in `sdk` take precedence over these.
    pub async fn open(sdk: &aws_config::SdkConfig, table: &str) -> Result<Self, Error> {
        if table.is_empty() {
            return Err(Error::Config("the lease table name is empty".into()));
        }
        let mut timeouts = sdk.timeout_config().cloned().unwrap_or_else(|| TimeoutConfig::builder().build());
        timeouts.take_defaults_from(
            &TimeoutConfig::builder()
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(CALL_TIMEOUT)
                .build(),
        );
        let config = aws_sdk_dynamodb::config::Builder::from(sdk)
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
            .timeout_config(timeouts)
            .build();
        let this = Self { client: Client::from_conf(config), table: table.to_owned() };
        this.ensure_table().await?;
        Ok(this)
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.table
    }

    async fn ensure_table(&self) -> Result<(), Error> {
        match self.status().await? {
            Some(TableStatus::Active) => return Ok(()),
            Some(status) => debug!(table = %self.table, ?status, "waiting for the lease table"),
            None => self.create_table().await?,
        }
        let deadline = Instant::now() + TABLE_ACTIVE_TIMEOUT;
        loop {
            tokio::time::sleep(TABLE_POLL_INTERVAL).await;
            match self.status().await? {
                Some(TableStatus::Active) => return Ok(()),
                status if Instant::now() >= deadline => {
                    return Err(Error::DynamoDb {
                        operation: "DescribeTable",
                        message: format!(
                            "table {} not ACTIVE after {:?} (status {status:?})",
                            self.table, TABLE_ACTIVE_TIMEOUT
                        ),
                    });
                }
                _ => {}
            }
        }
    }

    /// The table's status, `None` when it does not exist.
    async fn status(&self) -> Result<Option<TableStatus>, Error> {
        match self.client.describe_table().table_name(&self.table).send().await {
            Ok(out) => Ok(Some(
                out.table.and_then(|t| t.table_status).unwrap_or_else(|| TableStatus::from("missing")),
            )),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => Ok(None),
            Err(e) => Err(sdk_error("DescribeTable", e)),
        }
    }

    async fn create_table(&self) -> Result<(), Error> {
        let build = |e: aws_sdk_dynamodb::error::BuildError| Error::DynamoDb {
            operation: "CreateTable",
            message: e.to_string(),
        };
        let result = self
            .client
            .create_table()
            .table_name(&self.table)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(attr::KEY)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(build)?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(attr::KEY)
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(build)?,
            )
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        match result {
            Ok(_) => {
                info!(table = %self.table, "created the lease table");
                Ok(())
            }
            // Another worker created it first.
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_in_use_exception()) => Ok(()),
            Err(e) => Err(sdk_error("CreateTable", e)),
        }
    }

    /// Every lease, read consistently (all pages). An item that cannot be read is an
    /// [`Error::BadCheckpoint`] naming its key.
    pub async fn scan(&self) -> Result<Vec<Lease>, Error> {
        let mut items = self.scan_with_workers().await?;
        items.retain(|l| !l.key.starts_with(WORKER_KEY_PREFIX));
        Ok(items)
    }

    /// Marks `worker` present (its presence item, created if missing: owner = worker,
    /// counter + 1). Unconditional: only that worker writes it.
    pub async fn heartbeat(&self, worker: &str) -> Result<(), Error> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(attr::KEY, AttributeValue::S(format!("{WORKER_KEY_PREFIX}{worker}")))
            .update_expression(
                "SET #owner = :worker, #switches = if_not_exists(#switches, :zero) ADD #counter :one",
            )
            .expression_attribute_names("#owner", attr::OWNER)
            .expression_attribute_names("#switches", attr::SWITCHES)
            .expression_attribute_names("#counter", attr::COUNTER)
            .expression_attribute_values(":worker", AttributeValue::S(worker.to_owned()))
            .expression_attribute_values(":zero", number(0))
            .expression_attribute_values(":one", number(1))
            .send()
            .await
            .map_err(|e| sdk_error("UpdateItem", e))?;
        Ok(())
    }

    /// Removes `worker`'s presence item (it is leaving).
    pub async fn leave(&self, worker: &str) -> Result<(), Error> {
        self.delete(&format!("{WORKER_KEY_PREFIX}{worker}")).await
    }

    /// The leases and the workers' presence items (keys `#worker:<id>`), read consistently.
    pub(crate) async fn scan_with_workers(&self) -> Result<Vec<Lease>, Error> {
        let mut leases = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("Scan", e))?;
            for item in out.items.unwrap_or_default() {
                leases.push(lease_from_item(&item)?);
            }
            match out.last_evaluated_key.filter(|k| !k.is_empty()) {
                Some(key) => start = Some(key),
                None => return Ok(leases),
            }
        }
    }

    /// Creates the lease of `key` (counter 0, no owner, no checkpoint) unless it exists;
    /// true when this call created it.
    pub async fn create_if_missing(&self, key: &str) -> Result<bool, Error> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(attr::KEY, AttributeValue::S(key.to_owned()))
            .item(attr::COUNTER, number(0))
            .item(attr::SWITCHES, number(0))
            .condition_expression("attribute_not_exists(#key)")
            .expression_attribute_names("#key", attr::KEY)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {
                Ok(false)
            }
            Err(e) => Err(sdk_error("PutItem", e)),
        }
    }

    /// Takes `lease` for `worker`, provided its counter and owner are still those scanned:
    /// owner := worker, counter + 1, owner switches + 1. `None` when another write came
    /// first.
    pub async fn take(&self, lease: &Lease, worker: &str) -> Result<Option<Lease>, Error> {
        let mut update = Update::expecting(lease.counter, lease.owner.as_deref());
        update.set(attr::OWNER, AttributeValue::S(worker.to_owned()));
        update.increment(attr::COUNTER);
        // `if_not_exists`: items written by other tools may lack it.
        let switches = update.name(attr::SWITCHES);
        let zero = update.value("zero", number(0));
        let one = update.value("one", number(1));
        update.set.push(format!("{switches} = if_not_exists({switches}, {zero}) + {one}"));
        self.write_returning(lease, update, |now| now.owner.as_deref() == Some(worker)).await
    }

    /// Renews `lease` held by `worker`: counter + 1, provided counter and owner are
    /// unchanged. `None` when they changed: the lease is lost.
    pub async fn renew(&self, lease: &Lease, worker: &str) -> Result<Option<Lease>, Error> {
        let mut update = Update::expecting(lease.counter, Some(worker));
        update.increment(attr::COUNTER);
        let held = lease.owner.as_deref() == Some(worker);
        self.write_returning(lease, update, |now| held && now.owner.as_deref() == Some(worker)).await
    }

    /// Writes `checkpoint` into `lease` held by `worker`, provided counter and owner are
    /// unchanged: every checkpoint attribute (absent ones removed), owner switches := 0,
    /// counter + 1 (a checkpoint is also a renewal). `None` when the lease is lost.
    pub async fn checkpoint(
        &self,
        lease: &Lease,
        worker: &str,
        checkpoint: &Checkpoint,
    ) -> Result<Option<Lease>, Error> {
        let mut update = Update::expecting(lease.counter, Some(worker));
        update.increment(attr::COUNTER);
        update.set(attr::SWITCHES, number(0));
        let handled = checkpoint.handled.as_ref();
        update.set_or_remove(attr::TOKEN, handled.map(|h| AttributeValue::S(h.continuation_token.clone())));
        update
            .set_or_remove(attr::FRAGMENT, handled.map(|h| AttributeValue::S(h.fragment_number.to_string())));
        update.set_or_remove(attr::PRODUCER_MS, handled.and_then(|h| h.producer_timestamp_ms).map(number));
        update.set_or_remove(attr::SERVER_MS, handled.and_then(|h| h.server_timestamp_ms).map(number));
        update.set_or_remove(
            attr::IN_FLIGHT,
            checkpoint.in_flight.as_ref().map(|n| AttributeValue::S(n.to_string())),
        );
        update.set_or_remove(attr::HORIZON_MS, checkpoint.horizon_ms.map(number));
        let held = lease.owner.as_deref() == Some(worker);
        self.write_returning(lease, update, |now| {
            held && now.owner.as_deref() == Some(worker)
                && now.owner_switches_since_checkpoint == 0
                && now.checkpoint == *checkpoint
        })
        .await
    }

    /// Gives `lease` up: removes the owner and bumps the counter, provided counter and owner
    /// are unchanged. False when they changed (it was not `worker`'s any more).
    pub async fn release(&self, lease: &Lease, worker: &str) -> Result<bool, Error> {
        let mut update = Update::expecting(lease.counter, Some(worker));
        update.increment(attr::COUNTER);
        update.set_or_remove(attr::OWNER, None);
        if self.write(&lease.key, update, ReturnValue::None).await?.is_some() {
            return Ok(true);
        }
        let held = lease.owner.as_deref() == Some(worker);
        Ok(self.recover(lease, |now| held && now.owner.is_none()).await?.is_some())
    }

    /// Deletes the lease of `key` (its stream is gone), whoever holds it.
    pub async fn delete(&self, key: &str) -> Result<(), Error> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(attr::KEY, AttributeValue::S(key.to_owned()))
            .send()
            .await
            .map_err(|e| sdk_error("DeleteItem", e))?;
        Ok(())
    }

    /// The consistent read of one lease; `None` when it does not exist.
    pub async fn get(&self, key: &str) -> Result<Option<Lease>, Error> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::KEY, AttributeValue::S(key.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        out.item.map(|item| lease_from_item(&item)).transpose()
    }

    async fn write_returning(
        &self,
        lease: &Lease,
        update: Update,
        done: impl FnOnce(&Lease) -> bool,
    ) -> Result<Option<Lease>, Error> {
        let Some(out) = self.write(&lease.key, update, ReturnValue::AllNew).await? else {
            return self.recover(lease, done).await;
        };
        match out.attributes {
            Some(item) => lease_from_item(&item).map(Some),
            None => Err(Error::DynamoDb {
                operation: "UpdateItem",
                message: format!("no item returned for {}", lease.key),
            }),
        }
    }

    /// After a refused write to `lease`: the lease as it is when it shows that write done
    /// after all, else `None`. The SDK retries a write whose answer was lost (a timeout, a
    /// 5xx after the commit), and the retry fails on the counter the first attempt moved;
    /// exactly one write later, in the state `done` recognises, it was ours (KCL reads back
    /// the same way). Writes to a lease are serialised by its holder, so no other write of
    /// this worker can have moved it; `done` also checks that the write expected this
    /// worker to hold the lease, or it could never have passed.
    async fn recover(
        &self,
        lease: &Lease,
        done: impl FnOnce(&Lease) -> bool,
    ) -> Result<Option<Lease>, Error> {
        match self.get(&lease.key).await? {
            Some(now) if now.counter == lease.counter.saturating_add(1) && done(&now) => {
                info!(table = %self.table, key = %lease.key, "lease write refused on a retry, but done: recovered");
                Ok(Some(now))
            }
            _ => Ok(None),
        }
    }

    /// One conditional UpdateItem; `None` when the condition failed.
    async fn write(
        &self,
        key: &str,
        update: Update,
        returns: ReturnValue,
    ) -> Result<Option<UpdateItemOutput>, Error> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::KEY, AttributeValue::S(key.to_owned()))
            .update_expression(update.update_expression())
            .condition_expression(update.condition.join(" AND "))
            .set_expression_attribute_names(Some(update.names))
            .set_expression_attribute_values(Some(update.values))
            .return_values(returns)
            .send()
            .await;
        match result {
            Ok(out) => Ok(Some(out)),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {
                debug!(table = %self.table, key, "lease write refused: counter or owner changed");
                Ok(None)
            }
            Err(e) => Err(sdk_error("UpdateItem", e)),
        }
    }
}

/// An UpdateItem's expressions, built up with placeholders for every name (some of ours,
/// like `checkpoint`, may be DynamoDB reserved words) and only the placeholders used
/// (DynamoDB rejects unused ones).
#[derive(Debug, Default)]
struct Update {
    set: Vec<String>,
    remove: Vec<String>,
    condition: Vec<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Update {
    /// Conditional on the counter being `counter` and the owner being `owner` (absent when
    /// `None`): the fencing of every lease write.
    fn expecting(counter: u64, owner: Option<&str>) -> Self {
        let mut update = Self::default();
        let counter_name = update.name(attr::COUNTER);
        let expected = update.value("expectedCounter", number(counter));
        update.condition.push(format!("{counter_name} = {expected}"));
        let owner_name = update.name(attr::OWNER);
        let condition = match owner {
            None => format!("attribute_not_exists({owner_name})"),
            Some(owner) => {
                format!("{owner_name} = {}", update.value("expectedOwner", AttributeValue::S(owner.into())))
            }
        };
        update.condition.push(condition);
        update
    }

    fn name(&mut self, attribute: &str) -> String {
        let placeholder = format!("#{attribute}");
        self.names.insert(placeholder.clone(), attribute.to_owned());
        placeholder
    }

    fn value(&mut self, label: &str, value: AttributeValue) -> String {
        let placeholder = format!(":{label}");
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    fn set(&mut self, attribute: &str, value: AttributeValue) {
        let name = self.name(attribute);
        let value = self.value(attribute, value);
        self.set.push(format!("{name} = {value}"));
    }

    fn increment(&mut self, attribute: &str) {
        let name = self.name(attribute);
        let one = self.value("one", number(1));
        self.set.push(format!("{name} = {name} + {one}"));
    }

    fn set_or_remove(&mut self, attribute: &str, value: Option<AttributeValue>) {
        match value {
            Some(value) => self.set(attribute, value),
            None => {
                let name = self.name(attribute);
                self.remove.push(name);
            }
        }
    }

    fn update_expression(&self) -> String {
        let mut clauses = Vec::new();
        if !self.set.is_empty() {
            clauses.push(format!("SET {}", self.set.join(", ")));
        }
        if !self.remove.is_empty() {
            clauses.push(format!("REMOVE {}", self.remove.join(", ")));
        }
        clauses.join(" ")
    }
}

fn number(n: impl fmt::Display) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

fn sdk_error(operation: &'static str, error: impl std::error::Error) -> Error {
    Error::DynamoDb { operation, message: DisplayErrorContext(&error).to_string() }
}

/// Reads a lease item, strictly: a missing or mistyped attribute, a number out of range or
/// a bad fragment number is an error naming the key, never a default.
fn lease_from_item(item: &Item) -> Result<Lease, Error> {
    let key = match item.get(attr::KEY) {
        Some(AttributeValue::S(key)) if !key.is_empty() => key.clone(),
        other => {
            return Err(Error::BadCheckpoint {
                stream: "<no leaseKey>".into(),
                message: format!("{} is {}", attr::KEY, describe(other)),
            });
        }
    };
    read_lease(&key, item).map_err(|message| Error::BadCheckpoint { stream: key, message })
}

fn read_lease(key: &str, item: &Item) -> Result<Lease, String> {
    let owner = string(item, attr::OWNER)?;
    if owner.as_deref() == Some("") {
        return Err(format!("{} is empty", attr::OWNER));
    }
    let counter = parsed(item, attr::COUNTER, number_of)?.ok_or_else(|| format!("no {}", attr::COUNTER))?;
    let owner_switches_since_checkpoint =
        parsed(item, attr::SWITCHES, number_of)?.ok_or_else(|| format!("no {}", attr::SWITCHES))?;

    let token = string(item, attr::TOKEN)?;
    let fragment = parsed(item, attr::FRAGMENT, string_of)?;
    let producer_ms = parsed(item, attr::PRODUCER_MS, number_of)?;
    let server_ms = parsed(item, attr::SERVER_MS, number_of)?;
    let handled = match (token, fragment) {
        (Some(continuation_token), Some(fragment_number)) => Some(Handled {
            fragment_number,
            continuation_token,
            producer_timestamp_ms: producer_ms,
            server_timestamp_ms: server_ms,
        }),
        (None, None) if producer_ms.is_none() && server_ms.is_none() => None,
        // Half a checkpoint is not one: resuming from it could skip or repeat fragments.
        _ => {
            return Err(format!(
                "half a checkpoint: {} and {} go together, and the timestamps need them",
                attr::TOKEN,
                attr::FRAGMENT
            ));
        }
    };
    let checkpoint = Checkpoint {
        handled,
        in_flight: parsed(item, attr::IN_FLIGHT, string_of)?,
        horizon_ms: parsed(item, attr::HORIZON_MS, number_of)?,
    };
    Ok(Lease { key: key.to_owned(), owner, counter, owner_switches_since_checkpoint, checkpoint })
}

/// An optional S attribute.
fn string(item: &Item, name: &str) -> Result<Option<String>, String> {
    match item.get(name) {
        None => Ok(None),
        Some(AttributeValue::S(s)) => Ok(Some(s.clone())),
        other => Err(format!("{name} is {}, not a string", describe(other))),
    }
}

/// An optional attribute read by `read` (`number_of` for N, `string_of` for S) and parsed.
fn parsed<T: FromStr>(
    item: &Item,
    name: &str,
    read: fn(&AttributeValue) -> Option<&str>,
) -> Result<Option<T>, String>
where
    T::Err: fmt::Display,
{
    let Some(value) = item.get(name) else {
        return Ok(None);
    };
    let text = read(value).ok_or_else(|| format!("{name} is {}", describe(Some(value))))?;
    text.parse().map(Some).map_err(|e| format!("{name} {text:?}: {e}"))
}

fn number_of(value: &AttributeValue) -> Option<&str> {
    value.as_n().ok().map(String::as_str)
}

fn string_of(value: &AttributeValue) -> Option<&str> {
    value.as_s().ok().map(String::as_str)
}

/// The type of an attribute, for messages (values may be long or private).
fn describe(value: Option<&AttributeValue>) -> &'static str {
    match value {
        None => "missing",
        Some(AttributeValue::S(_)) => "a string",
        Some(AttributeValue::N(_)) => "a number",
        Some(AttributeValue::B(_)) => "binary",
        Some(AttributeValue::Bool(_)) => "a boolean",
        Some(AttributeValue::Null(_)) => "null",
        Some(AttributeValue::L(_)) => "a list",
        Some(AttributeValue::M(_)) => "a map",
        Some(_) => "of an unexpected type",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }

    fn n(v: &str) -> AttributeValue {
        AttributeValue::N(v.into())
    }

    fn item(pairs: &[(&str, AttributeValue)]) -> Item {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
    }

    fn minimal() -> Vec<(&'static str, AttributeValue)> {
        vec![(attr::KEY, s("door")), (attr::COUNTER, n("3")), (attr::SWITCHES, n("1"))]
    }

    #[test]
    fn reads_a_full_item() {
        let fragment = "913438523331814323926820626077439201462642095120";
        let mut pairs = minimal();
        pairs.extend([
            (attr::OWNER, s("w1")),
            (attr::TOKEN, s(fragment)),
            (attr::FRAGMENT, s(fragment)),
            (attr::PRODUCER_MS, n("1700000000000")),
            (attr::SERVER_MS, n("-5")),
            (attr::IN_FLIGHT, s("913438523331814323926820626077439201462642095121")),
            (attr::HORIZON_MS, n("1700000000999")),
            ("someOtherTool", s("ignored")),
        ]);
        let lease = lease_from_item(&item(&pairs)).unwrap();
        assert_eq!(lease.key, "door");
        assert_eq!(lease.owner.as_deref(), Some("w1"));
        assert_eq!((lease.counter, lease.owner_switches_since_checkpoint), (3, 1));
        let handled = lease.checkpoint.handled.unwrap();
        assert_eq!(handled.fragment_number.as_str(), fragment);
        assert_eq!(handled.continuation_token, fragment);
        assert_eq!(handled.producer_timestamp_ms, Some(1_700_000_000_000));
        assert_eq!(handled.server_timestamp_ms, Some(-5));
        assert_eq!(
            lease.checkpoint.in_flight.unwrap().as_str(),
            "913438523331814323926820626077439201462642095121"
        );
        assert_eq!(lease.checkpoint.horizon_ms, Some(1_700_000_000_999));
    }

    #[test]
    fn reads_a_new_item() {
        let lease = lease_from_item(&item(&minimal())).unwrap();
        assert_eq!(lease, Lease { counter: 3, owner_switches_since_checkpoint: 1, ..Lease::new("door") });
    }

    #[test]
    fn malformed_items_are_errors_naming_the_key() {
        // A new lease's item with `changes` replaced or added.
        let with = |changes: &[(&str, AttributeValue)]| {
            let mut it = item(&minimal());
            it.extend(changes.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
            it
        };
        let mut no_counter = item(&minimal());
        no_counter.remove(attr::COUNTER);
        // (name, item, what the message must mention)
        let cases: Vec<(&str, Item, &str)> = vec![
            ("counter missing", no_counter, "leaseCounter"),
            ("counter as a string", with(&[(attr::COUNTER, s("3"))]), "leaseCounter"),
            ("negative counter", with(&[(attr::COUNTER, n("-1"))]), "leaseCounter"),
            ("fractional counter", with(&[(attr::COUNTER, n("1.5"))]), "leaseCounter"),
            ("huge counter", with(&[(attr::COUNTER, n("1e40"))]), "leaseCounter"),
            ("owner as a number", with(&[(attr::OWNER, n("7"))]), "leaseOwner"),
            ("empty owner", with(&[(attr::OWNER, s(""))]), "leaseOwner"),
            ("token without fragment", with(&[(attr::TOKEN, s("123"))]), "fragmentNumber"),
            ("fragment without token", with(&[(attr::FRAGMENT, s("123"))]), "checkpoint"),
            ("timestamp without checkpoint", with(&[(attr::SERVER_MS, n("1"))]), "checkpoint"),
            (
                "bad fragment number",
                with(&[(attr::TOKEN, s("1")), (attr::FRAGMENT, s("12a"))]),
                "fragmentNumber",
            ),
            ("bad in-flight", with(&[(attr::IN_FLIGHT, s(""))]), "inFlight"),
            ("horizon as a string", with(&[(attr::HORIZON_MS, s("5"))]), "horizonMs"),
            (
                "timestamp overflow",
                with(&[
                    (attr::TOKEN, s("1")),
                    (attr::FRAGMENT, s("1")),
                    (attr::PRODUCER_MS, n("99999999999999999999")),
                ]),
                "producerTimestampMs",
            ),
        ];
        for (name, it, mentions) in cases {
            match lease_from_item(&it) {
                Err(Error::BadCheckpoint { stream, message }) => {
                    assert_eq!(stream, "door", "{name}");
                    assert!(message.contains(mentions), "{name}: {message}");
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn an_item_without_a_key_is_an_error() {
        let mut it = item(&minimal());
        it.insert(attr::KEY.into(), n("1"));
        assert!(matches!(lease_from_item(&it), Err(Error::BadCheckpoint { .. })));
        it.remove(attr::KEY);
        assert!(matches!(lease_from_item(&it), Err(Error::BadCheckpoint { .. })));
    }

    #[test]
    fn update_expressions_use_only_their_placeholders() {
        let mut update = Update::expecting(4, None);
        update.set(attr::OWNER, s("me"));
        update.increment(attr::COUNTER);
        update.set_or_remove(attr::TOKEN, None);
        assert_eq!(
            update.update_expression(),
            "SET #leaseOwner = :leaseOwner, #leaseCounter = #leaseCounter + :one REMOVE #checkpoint"
        );
        assert_eq!(
            update.condition.join(" AND "),
            "#leaseCounter = :expectedCounter AND attribute_not_exists(#leaseOwner)"
        );
        let mut names: Vec<_> = update.names.keys().cloned().collect();
        names.sort();
        assert_eq!(names, ["#checkpoint", "#leaseCounter", "#leaseOwner"]);
        let mut values: Vec<_> = update.values.keys().cloned().collect();
        values.sort();
        assert_eq!(values, [":expectedCounter", ":leaseOwner", ":one"]);
    }
}
