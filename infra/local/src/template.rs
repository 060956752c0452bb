//! Reads template.yaml: routes, CORS, resources, parameters and the functions' environment.
//! Nothing the template declares is written a second time for the local stack.

use serde_yaml::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Upper-case method, or `ANY`.
    pub method: String,
    pub path: String,
    /// The function (its `Handler`, which names its crate) serving the route.
    pub function: String,
    /// The REST API stage it is under (`stream`), or `None` for the HTTP API's routes.
    pub stage: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Cors {
    pub allow_origins: Vec<String>,
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age: Option<u64>,
}

pub struct Template {
    root: Value,
}

fn as_str(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .map(|s| s.iter().filter_map(as_str).collect())
        .unwrap_or_default()
}

/// One SQS event source mapping of the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsSource {
    pub function: String,
    pub queue: String,
    pub batch_size: i32,
    pub max_concurrency: usize,
}

/// One DynamoDB stream event source mapping of the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSource {
    pub function: String,
    /// The table's logical id.
    pub table: String,
    pub batch_size: usize,
}

impl Template {
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self, Error> {
        let root: Value = serde_yaml::from_str(text)?;
        if root.get("Resources").and_then(Value::as_mapping).is_none() {
            return Err("template has no Resources".into());
        }
        Ok(Self { root })
    }

    /// (logical id, resource) pairs of one CloudFormation type, in template order.
    pub fn resources_of(&self, kind: &str) -> Vec<(String, &Value)> {
        self.root["Resources"]
            .as_mapping()
            .into_iter()
            .flatten()
            .filter(|(_, r)| r["Type"].as_str() == Some(kind))
            .filter_map(|(id, r)| Some((id.as_str()?.to_string(), r)))
            .collect()
    }

    pub fn resource(&self, logical_id: &str) -> Option<&Value> {
        self.root["Resources"].get(logical_id)
    }

    /// Each function's `Handler` (the name of its crate, and what its bundle's bootstrap
    /// serves), by logical id.
    pub fn function_handlers(&self) -> BTreeMap<String, String> {
        self.resources_of("AWS::Serverless::Function")
            .into_iter()
            .filter_map(|(id, f)| {
                let handler = f["Properties"]["Handler"].as_str()?;
                Some((id, handler.to_string()))
            })
            .collect()
    }

    /// Every route: one per event of type HttpApi, and one per event of type Api (a REST
    /// API's, under its stage).
    pub fn routes(&self) -> Vec<Route> {
        let handlers = self.function_handlers();
        let mut routes = Vec::new();
        for (id, f) in self.resources_of("AWS::Serverless::Function") {
            let Some(function) = handlers.get(&id) else {
                continue;
            };
            for (_, event) in f["Properties"]["Events"].as_mapping().into_iter().flatten() {
                let props = &event["Properties"];
                let stage = match event["Type"].as_str() {
                    Some("HttpApi") => None,
                    Some("Api") => Some(self.stage_of(&props["RestApiId"])),
                    _ => continue,
                };
                let method = props["Method"].as_str().unwrap_or("ANY").to_uppercase();
                let path = props["Path"].as_str().unwrap_or("/{proxy+}").to_string();
                routes.push(Route {
                    method,
                    path,
                    function: function.clone(),
                    stage,
                });
            }
        }
        routes
    }

    /// The stage of the REST API an `Api` event names (`{Ref: Id}`); SAM's own stage, `Prod`,
    /// when the event names none.
    fn stage_of(&self, rest_api: &Value) -> String {
        rest_api["Ref"]
            .as_str()
            .and_then(|id| self.resource(id))
            .and_then(|api| api["Properties"]["StageName"].as_str())
            .unwrap_or("Prod")
            .to_string()
    }

    /// Functions fed by an SQS event, with the queue's logical id.
    pub fn sqs_consumers(&self) -> Vec<(String, String)> {
        self.sqs_sources()
            .into_iter()
            .map(|s| (s.function, s.queue))
            .collect()
    }

    /// Every event of a function (logical id, its handler, the event's type and properties).
    fn function_events(&self) -> Vec<(String, String, &str, &Value)> {
        let handlers = self.function_handlers();
        let mut out = Vec::new();
        for (id, f) in self.resources_of("AWS::Serverless::Function") {
            let Some(function) = handlers.get(&id) else {
                continue;
            };
            for (_, event) in f["Properties"]["Events"].as_mapping().into_iter().flatten() {
                if let Some(kind) = event["Type"].as_str() {
                    out.push((id.clone(), function.clone(), kind, &event["Properties"]));
                }
            }
        }
        out
    }

    /// Every SQS event source: function, queue, and how Lambda would poll it.
    pub fn sqs_sources(&self) -> Vec<SqsSource> {
        self.function_events()
            .into_iter()
            .filter(|(_, _, kind, _)| *kind == "SQS")
            .filter_map(|(_, function, _, props)| {
                Some(SqsSource {
                    function,
                    queue: props["Queue"]["Fn::GetAtt"][0].as_str()?.to_string(),
                    // Lambda's defaults: batches of 10; without a maximum, as many
                    // invocations as the queue needs (bounded here).
                    batch_size: props["BatchSize"].as_u64().unwrap_or(10).clamp(1, 10) as i32,
                    max_concurrency: props["ScalingConfig"]["MaximumConcurrency"]
                        .as_u64()
                        .unwrap_or(5) as usize,
                })
            })
            .collect()
    }

    /// Every DynamoDB stream event source: function, table, and its batch size.
    pub fn stream_sources(&self) -> Vec<StreamSource> {
        self.function_events()
            .into_iter()
            .filter(|(_, _, kind, _)| *kind == "DynamoDB")
            .filter_map(|(_, function, _, props)| {
                Some(StreamSource {
                    function,
                    table: props["Stream"]["Fn::GetAtt"][0].as_str()?.to_string(),
                    batch_size: props["BatchSize"].as_u64().unwrap_or(100).clamp(1, 1000) as usize,
                })
            })
            .collect()
    }

    /// Functions run on a schedule, with how often (`rate(...)` expressions only:
    /// the local stack runs them on that period).
    pub fn scheduled(&self) -> Result<Vec<(String, Duration)>, Error> {
        let mut out = Vec::new();
        for (id, function, kind, props) in self.function_events() {
            let expression = match kind {
                "Schedule" => props["Schedule"].as_str(),
                "ScheduleV2" => props["ScheduleExpression"].as_str(),
                _ => continue,
            };
            let period = expression.and_then(rate).ok_or_else(|| {
                format!("{id}: schedule {expression:?} is not a rate(...) expression")
            })?;
            out.push((function, period));
        }
        Ok(out)
    }

    pub fn cors(&self) -> Option<Cors> {
        let api = self
            .resources_of("AWS::Serverless::HttpApi")
            .into_iter()
            .next()?
            .1;
        let c = &api["Properties"]["CorsConfiguration"];
        if c.is_null() {
            return None;
        }
        Some(Cors {
            allow_origins: strings(&c["AllowOrigins"]),
            allow_methods: strings(&c["AllowMethods"]),
            allow_headers: strings(&c["AllowHeaders"]),
            expose_headers: strings(&c["ExposeHeaders"]),
            max_age: c["MaxAge"].as_u64(),
        })
    }

    /// Parameter values: an override, else the template default; a `NoEcho` parameter without
    /// default (a secret) gets a fresh random value, anything else missing is an error.
    pub fn parameters(
        &self,
        overrides: &HashMap<String, String>,
    ) -> Result<HashMap<String, String>, Error> {
        // The environment variable a parameter becomes (`OPENAI_API_KEY` for `OpenAiApiKey`) is
        // what people and tools try first: it counts too, the parameter's own name winning.
        let env_name: HashMap<String, String> = self
            .global_environment()
            .into_iter()
            .chain(
                self.function_environment()
                    .into_iter()
                    .map(|(_, var, v)| (var, v)),
            )
            .filter_map(|(var, v)| Some((v.get("Ref")?.as_str()?.to_string(), var)))
            .collect();
        let mut out = HashMap::new();
        for (name, p) in self.root["Parameters"].as_mapping().into_iter().flatten() {
            let Some(name) = name.as_str() else { continue };
            let given = overrides
                .get(name)
                .or_else(|| env_name.get(name).and_then(|var| overrides.get(var)));
            let value = if let Some(v) = given {
                v.clone()
            } else if let Some(d) = p.get("Default").and_then(as_str) {
                d
            } else if p["NoEcho"].as_bool() == Some(true) {
                random_secret()
            } else {
                return Err(format!("parameter {name} has no default; pass a value").into());
            };
            out.insert(name.to_string(), value);
        }
        // A required secret that may come from Secrets Manager instead (`JwtSecret`, or the
        // secret `JwtSecretArn` names) gets a fresh random value when neither is given.
        for (name, p) in self.root["Parameters"].as_mapping().into_iter().flatten() {
            let Some(name) = name.as_str() else { continue };
            let empty = |n: &str| out.get(n).is_some_and(|v: &String| v.is_empty());
            let arn = format!("{name}Arn");
            if p["NoEcho"].as_bool() == Some(true) && empty(name) && empty(&arn) {
                out.insert(name.to_string(), random_secret());
            }
        }
        Ok(out)
    }

    /// The names of the template's parameters.
    pub fn parameter_names(&self) -> Vec<String> {
        self.root["Parameters"]
            .as_mapping()
            .into_iter()
            .flatten()
            .filter_map(|(k, _)| k.as_str().map(str::to_string))
            .collect()
    }

    /// `Globals.Function.Environment.Variables`, unresolved.
    pub fn global_environment(&self) -> Vec<(String, Value)> {
        self.root["Globals"]["Function"]["Environment"]["Variables"]
            .as_mapping()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.clone())))
            .collect()
    }

    /// Every function's own `Environment` variables (beside Globals), unresolved.
    pub fn function_environment(&self) -> Vec<(String, String, Value)> {
        self.resources_of("AWS::Serverless::Function")
            .into_iter()
            .flat_map(|(id, f)| {
                f["Properties"]["Environment"]["Variables"]
                    .as_mapping()
                    .into_iter()
                    .flatten()
                    .filter_map(move |(k, v)| {
                        Some((id.clone(), k.as_str()?.to_string(), v.clone()))
                    })
            })
            .collect()
    }

    /// Whether a parameter is a secret that may come from Secrets Manager instead (it has an
    /// `…Arn` or `…SecretArn` companion).
    pub fn is_managed_secret(&self, parameter: &str) -> bool {
        let names = self.parameter_names();
        [format!("{parameter}Arn"), format!("{parameter}SecretArn")]
            .iter()
            .any(|companion| names.contains(companion))
    }

    /// Functions whose own `Environment` holds more than secrets. The local stack serves every
    /// function with one configuration: Globals, and the secrets it moves into the emulator's
    /// Secrets Manager (which every function reads by ARN, as on AWS with ARNs).
    pub fn functions_with_own_environment(&self) -> Vec<String> {
        let mut own: Vec<String> = self
            .function_environment()
            .into_iter()
            .filter(|(_, _, v)| {
                !v.get("Ref")
                    .and_then(Value::as_str)
                    .is_some_and(|p| self.is_managed_secret(p))
            })
            .map(|(id, _, _)| id)
            .collect();
        own.dedup();
        own
    }

    /// A condition of the template's `Conditions`, evaluated with parameters from `r`.
    pub fn condition(&self, name: &str, r: &dyn Resolve) -> Result<bool, Error> {
        let expr = &self.root["Conditions"][name];
        if expr.is_null() {
            return Err(format!("no condition {name}").into());
        }
        self.evaluate(expr, r)
    }

    fn evaluate(&self, expr: &Value, r: &dyn Resolve) -> Result<bool, Error> {
        let args = |key: &str| expr.get(key).and_then(Value::as_sequence);
        if let Some(name) = expr.get("Condition").and_then(Value::as_str) {
            return self.condition(name, r);
        }
        if let Some([inner]) = args("Fn::Not").map(Vec::as_slice) {
            return Ok(!self.evaluate(inner, r)?);
        }
        if let Some([a, b]) = args("Fn::Equals").map(Vec::as_slice) {
            return Ok(resolve(a, r)? == resolve(b, r)?);
        }
        if let Some(all) = args("Fn::Or") {
            return all
                .iter()
                .try_fold(false, |any, e| Ok(any || self.evaluate(e, r)?));
        }
        if let Some(all) = args("Fn::And") {
            return all
                .iter()
                .try_fold(true, |every, e| Ok(every && self.evaluate(e, r)?));
        }
        Err(format!("unsupported condition: {expr:?}").into())
    }
}

/// A resolver that also knows the template's conditions (for `Fn::If`).
pub struct WithConditions<'a> {
    pub template: &'a Template,
    pub inner: &'a dyn Resolve,
}

impl Resolve for WithConditions<'_> {
    fn reference(&self, id: &str) -> Option<String> {
        self.inner.reference(id)
    }
    fn attribute(&self, id: &str, attribute: &str) -> Option<String> {
        self.inner.attribute(id, attribute)
    }
    fn condition(&self, name: &str) -> Option<bool> {
        self.template.condition(name, self.inner).ok()
    }
}

/// `rate(5 minutes)` → 300 s.
fn rate(expression: &str) -> Option<Duration> {
    let inner = expression.strip_prefix("rate(")?.strip_suffix(')')?;
    let (n, unit) = inner.trim().split_once(' ')?;
    let n: u64 = n.parse().ok().filter(|n| *n > 0)?;
    let unit = match unit.trim() {
        "minute" | "minutes" => 60,
        "hour" | "hours" => 3600,
        "day" | "days" => 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(n * unit))
}

fn random_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Resolves `Ref` and `Fn::GetAtt` against what the local stack created.
pub trait Resolve {
    fn reference(&self, logical_id: &str) -> Option<String>;
    fn attribute(&self, logical_id: &str, attribute: &str) -> Option<String>;
    /// A template condition's value, for `Fn::If` (see [`WithConditions`]).
    fn condition(&self, _name: &str) -> Option<bool> {
        None
    }
}

pub fn resolve(value: &Value, r: &dyn Resolve) -> Result<String, Error> {
    if let Some(s) = as_str(value) {
        return Ok(s);
    }
    if let Some(name) = value.get("Ref").and_then(Value::as_str) {
        return r
            .reference(name)
            .ok_or_else(|| format!("cannot resolve Ref {name}").into());
    }
    if let Some(att) = value.get("Fn::GetAtt") {
        let id = att[0].as_str().unwrap_or_default();
        let attribute = att[1].as_str().unwrap_or_default();
        return r
            .attribute(id, attribute)
            .ok_or_else(|| format!("cannot resolve Fn::GetAtt {id}.{attribute}").into());
    }
    if let Some([separator, items]) = value
        .get("Fn::Join")
        .and_then(Value::as_sequence)
        .map(Vec::as_slice)
    {
        let parts = items
            .as_sequence()
            .ok_or("Fn::Join takes a list")?
            .iter()
            .map(|v| resolve(v, r))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(parts.join(&resolve(separator, r)?));
    }
    if let Some([cond, yes, no]) = value
        .get("Fn::If")
        .and_then(Value::as_sequence)
        .map(Vec::as_slice)
    {
        let name = cond.as_str().unwrap_or_default();
        let holds = r
            .condition(name)
            .ok_or_else(|| format!("cannot evaluate condition {name}"))?;
        return resolve(if holds { yes } else { no }, r);
    }
    Err(format!("unsupported intrinsic in template value: {value:?}").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = r#"
Parameters:
  Secret: {Type: String, NoEcho: true}
  Level: {Type: String, Default: info}
  Key: {Type: String, NoEcho: true, Default: ""}
  KeySecretArn: {Type: String, Default: ""}
Conditions:
  HasKeyArn: {"Fn::Not": [{"Fn::Equals": [{Ref: KeySecretArn}, ""]}]}
  HasKey:
    "Fn::Or": [{"Fn::Not": [{"Fn::Equals": [{Ref: Key}, ""]}]}, {Condition: HasKeyArn}]
Globals:
  Function:
    Environment:
      Variables:
        LEVEL: {Ref: Level}
        ARN: {"Fn::GetAtt": [Q, Arn]}
        KEYS: {"Fn::Join": [",", [{"Fn::If": [HasKey, key, ""]}, {"Fn::If": [HasKeyArn, arn, ""]}]]}
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration: {AllowOrigins: ["*"], AllowHeaders: [authorization], MaxAge: 600}
  A:
    Type: AWS::Serverless::Function
    Properties:
      Handler: a
      Environment: {Variables: {KEY: {Ref: Key}}}
      Events:
        One: {Type: HttpApi, Properties: {Path: /v1/a, Method: get}}
        Two: {Type: HttpApi, Properties: {Path: "/v1/a/{id}", Method: DELETE}}
        Streamed: {Type: Api, Properties: {RestApiId: {Ref: Rest}, Path: /v1/a, Method: post}}
  Rest:
    Type: AWS::Serverless::Api
    Properties: {StageName: live}
  W:
    Type: AWS::Serverless::Function
    Properties:
      Handler: w
      Events:
        Q: {Type: SQS, Properties: {Queue: {"Fn::GetAtt": [Q, Arn]}}}
  Q: {Type: AWS::SQS::Queue}
  S:
    Type: AWS::Serverless::Function
    Properties:
      Handler: s
      Events:
        Every: {Type: ScheduleV2, Properties: {ScheduleExpression: rate(5 minutes)}}
"#;

    struct R;
    impl Resolve for R {
        fn reference(&self, id: &str) -> Option<String> {
            match id {
                "Level" => Some("info".into()),
                "Key" => Some("sk-1".into()),
                "KeySecretArn" => Some(String::new()),
                _ => None,
            }
        }
        fn attribute(&self, id: &str, a: &str) -> Option<String> {
            Some(format!("{id}.{a}"))
        }
    }

    #[test]
    fn reads_routes_consumers_cors_and_parameters() {
        let t = Template::parse(T).unwrap();
        let routes = t.routes();
        assert_eq!(routes.len(), 3);
        assert_eq!(
            routes[0],
            Route {
                method: "GET".into(),
                path: "/v1/a".into(),
                function: "a".into(),
                stage: None,
            }
        );
        assert_eq!(routes[2].stage.as_deref(), Some("live"));
        assert_eq!(routes[2].method, "POST");
        assert_eq!(t.sqs_consumers(), vec![("w".to_string(), "Q".to_string())]);
        assert_eq!(
            t.scheduled().unwrap(),
            vec![("s".to_string(), Duration::from_secs(300))]
        );
        assert_eq!(rate("rate(1 hour)"), Some(Duration::from_secs(3600)));
        assert_eq!(rate("cron(0 * * * ? *)"), None);
        assert_eq!(rate("rate(0 minutes)"), None);
        assert_eq!(t.cors().unwrap().max_age, Some(600));
        let p = t.parameters(&HashMap::new()).unwrap();
        assert_eq!(p["Level"], "info");
        assert_eq!(p["Secret"].len(), 64);
        let conditioned = WithConditions {
            template: &t,
            inner: &R,
        };
        let env: HashMap<_, _> = t
            .global_environment()
            .into_iter()
            .map(|(k, v)| (k, resolve(&v, &conditioned).unwrap()))
            .collect();
        assert_eq!(env["ARN"], "Q.Arn");
        assert_eq!(env["KEYS"], "key,");
        // A function's own secrets are fine; anything else of its own is not served locally.
        assert!(t.functions_with_own_environment().is_empty());
        let p = t
            .parameters(&[("KEY".to_string(), "sk-2".to_string())].into())
            .unwrap();
        assert_eq!(p["Key"], "sk-2");
    }

    #[test]
    fn parameters_can_be_given_by_the_variable_they_become() {
        let t = Template::parse(T).unwrap();
        let given = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let p = t.parameters(&given(&[("LEVEL", "debug")])).unwrap();
        assert_eq!(p["Level"], "debug");
        // The parameter's own name wins over the variable's.
        let p = t
            .parameters(&given(&[("LEVEL", "debug"), ("Level", "warn")]))
            .unwrap();
        assert_eq!(p["Level"], "warn");
    }
}
