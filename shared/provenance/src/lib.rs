//! C2PA Content Credentials: every image and video the API stores is signed with a manifest
//! saying it was made by AI (IPTC digital source type), by which model and vendor, when, and from
//! which parent; readers validate them back. Built on the official `c2pa` crate.

mod chain;

pub use chain::{Chain, generate_chain};

use c2pa::{Builder, Context, Reader, SigningAlg};
use serde_json::{Value, json};
use std::io::Cursor;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum ProvenanceError {
    #[error("the signing certificate or key is unusable: {0}")]
    Credentials(String),
    #[error("content credentials could not be written: {0}")]
    Sign(String),
    #[error("content credentials could not be read: {0}")]
    Read(String),
}

/// What an IPTC digital source type says about how the content was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Made by a model trained on captured content (every vendor's model).
    TrainedAlgorithmic,
    /// Made by an algorithm without training data (the offline procedural renderer).
    Algorithmic,
    /// A human's content changed by a trained model (an upload edited or inpainted).
    CompositeWithTrainedAlgorithmic,
    /// A human's content changed by an algorithm that is not a trained model.
    CompositeSynthetic,
}

impl Source {
    pub fn uri(self) -> &'static str {
        match self {
            Self::TrainedAlgorithmic => {
                "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
            }
            Self::Algorithmic => "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia",
            Self::CompositeWithTrainedAlgorithmic => {
                "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
            }
            Self::CompositeSynthetic => {
                "http://cv.iptc.org/newscodes/digitalsourcetype/compositeSynthetic"
            }
        }
    }

    /// What a model makes from nothing: `trained` says whether it learned from captured content.
    pub fn made_by(trained: bool) -> Self {
        if trained {
            Self::TrainedAlgorithmic
        } else {
            Self::Algorithmic
        }
    }

    /// What a model makes of its inputs: still synthetic when they all are, else a composite.
    pub fn edited_by(trained: bool, parent_is_synthetic: bool) -> Self {
        match (parent_is_synthetic, trained) {
            (true, t) => Self::made_by(t),
            (false, true) => Self::CompositeWithTrainedAlgorithmic,
            (false, false) => Self::CompositeSynthetic,
        }
    }
}

/// The model that did the work and the vendor that served it.
#[derive(Clone, Debug)]
pub struct Agent {
    pub model: String,
    pub vendor: String,
}

/// What happened to make the content.
#[derive(Clone, Debug)]
pub enum Made {
    /// A model made it: from nothing (`c2pa.created`), or from the parent (`c2pa.opened`, then
    /// `c2pa.edited`). `trained`: a model trained on captured content, not a procedure.
    ByModel { agent: Agent, trained: bool },
    /// A deterministic operation changed the parent (`c2pa.opened`, then `c2pa.edited`).
    Edited { description: String },
    /// The parent's content as it is, signed anew (`c2pa.opened`): a new version of an asset.
    Opened,
}

/// An asset this one was made from, with the content credentials it carries, if any.
pub struct Ingredient<'a> {
    pub title: String,
    pub bytes: &'a [u8],
    pub mime: &'a str,
}

/// What a manifest says about one output.
pub struct Claim<'a> {
    pub title: String,
    pub made: Made,
    /// RFC 3339, UTC.
    pub when: String,
    pub parent: Option<Ingredient<'a>>,
    /// The other inputs of an edit (`componentOf`): more images it was made of.
    pub components: Vec<Ingredient<'a>>,
    /// The vendor's own signed output (`componentOf`): its credentials stay in the store.
    pub vendor_output: Option<Ingredient<'a>>,
    /// Disclosed only when the user asked: (`prompt` | `author`, value).
    pub disclosed: Vec<(&'static str, String)>,
}

/// Signs with one certificate chain and key; cheap to share between threads.
pub struct Signer {
    signer: c2pa::BoxedSigner,
    context: Arc<Context>,
    /// No certificate was configured: the chain was made by this deployment itself.
    pub self_signed: bool,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("self_signed", &self.self_signed)
            .finish_non_exhaustive()
    }
}

/// Settings shared by signing and reading: no network (vendors' remote manifests and OCSP are
/// out of reach from a Lambda with no egress to them), no thumbnails (not compiled in).
fn context(trust_anchors: Option<&str>) -> Result<Context, ProvenanceError> {
    let mut settings = json!({
        "verify": {"remote_manifest_fetch": false, "ocsp_fetch": false},
        "builder": {"thumbnail": {"enabled": false}},
    });
    if let Some(anchors) = trust_anchors.filter(|a| !a.trim().is_empty()) {
        settings["trust"] = json!({"trust_anchors": anchors});
    }
    Context::new()
        .with_settings(settings.to_string().as_str())
        .map_err(|e| ProvenanceError::Credentials(e.to_string()))
}

impl Signer {
    /// A signer from a PEM certificate chain (end entity first) and its PKCS#8 PEM key (ES256).
    pub fn from_pem(chain_pem: &[u8], key_pem: &[u8]) -> Result<Self, ProvenanceError> {
        let signer = c2pa::create_signer::from_keys(chain_pem, key_pem, SigningAlg::Es256, None)
            .map_err(|e| ProvenanceError::Credentials(e.to_string()))?;
        Ok(Self {
            signer,
            context: Arc::new(context(None)?),
            self_signed: false,
        })
    }

    /// A signer from one PEM text holding the certificate chain and the private key (how a
    /// deployment's secret keeps them).
    pub fn from_bundle(pem: &[u8]) -> Result<Self, ProvenanceError> {
        let text = std::str::from_utf8(pem)
            .map_err(|_| ProvenanceError::Credentials("the PEM is not text".into()))?;
        let (mut chain, mut key) = (String::new(), String::new());
        let mut block: Option<&mut String> = None;
        for line in text.lines() {
            if line.starts_with("-----BEGIN ") {
                block = Some(if line.contains("PRIVATE KEY") {
                    &mut key
                } else {
                    &mut chain
                });
            }
            if let Some(out) = block.as_deref_mut() {
                out.push_str(line.trim_end());
                out.push('\n');
            }
            if line.starts_with("-----END ") {
                block = None;
            }
        }
        if chain.is_empty() || key.is_empty() {
            return Err(ProvenanceError::Credentials(
                "the PEM needs the certificate chain and its private key".into(),
            ));
        }
        Self::from_pem(chain.as_bytes(), key.as_bytes())
    }

    /// A signer with a chain made here and now, for a deployment without its own certificate.
    pub fn self_signed(organization: &str) -> Result<Self, ProvenanceError> {
        let chain = generate_chain(organization, true)?;
        Ok(Self {
            self_signed: true,
            ..Self::from_pem(chain.chain_pem.as_bytes(), chain.key_pem.as_bytes())?
        })
    }

    /// `asset` with a manifest embedded (PNG, JPEG, WebP, GIF, MP4, SVG); the parent's own
    /// credentials, if it has any, become its ingredient's.
    pub fn sign(
        &self,
        asset: &[u8],
        mime: &str,
        claim: &Claim,
    ) -> Result<Vec<u8>, ProvenanceError> {
        let fail = |e: c2pa::Error| ProvenanceError::Sign(e.to_string());
        let mut builder = Builder::from_shared_context(&self.context)
            .with_definition(
                json!({
                    "title": claim.title,
                    "format": mime,
                    "claim_generator_info": [{
                        "name": "imageapi",
                        "version": env!("CARGO_PKG_VERSION"),
                    }],
                })
                .to_string()
                .as_str(),
            )
            .map_err(fail)?;
        let labels = component_labels(claim);
        let ingredients = claim
            .parent
            .iter()
            .map(|i| (i, "parentOf", PARENT.to_string()))
            .chain(
                claim
                    .components
                    .iter()
                    .zip(labels)
                    .map(|(i, l)| (i, "componentOf", l)),
            )
            .chain(
                claim
                    .vendor_output
                    .iter()
                    .map(|i| (i, "componentOf", VENDOR.to_string())),
            );
        for (i, relationship, label) in ingredients {
            builder
                .add_ingredient_from_stream(
                    json!({"title": i.title, "relationship": relationship, "label": label})
                        .to_string(),
                    i.mime,
                    &mut Cursor::new(i.bytes),
                )
                .map_err(fail)?;
        }
        // Content a person made, in any input, makes the result a composite.
        let inputs_synthetic = claim
            .parent
            .iter()
            .chain(&claim.components)
            .all(|i| is_synthetic(i.bytes, i.mime));
        for action in actions(claim, inputs_synthetic) {
            builder.add_action(action).map_err(fail)?;
        }
        let mut out = Cursor::new(Vec::with_capacity(asset.len() + 32 * 1024));
        builder
            .sign(
                self.signer.as_ref(),
                mime,
                &mut Cursor::new(asset),
                &mut out,
            )
            .map_err(fail)?;
        Ok(out.into_inner())
    }
}

const PARENT: &str = "parent";
const VENDOR: &str = "vendor";

/// `input_1`, `input_2`, …: the labels of an edit's other inputs.
fn component_labels(claim: &Claim) -> Vec<String> {
    (1..=claim.components.len())
        .map(|n| format!("input_{n}"))
        .collect()
}

/// Whether an IPTC digital source type says a model or an algorithm made the content.
pub fn is_synthetic_source(uri: &str) -> bool {
    [
        Source::TrainedAlgorithmic,
        Source::Algorithmic,
        Source::CompositeWithTrainedAlgorithmic,
        Source::CompositeSynthetic,
    ]
    .iter()
    .any(|s| s.uri() == uri)
}

/// Whether content says, in its own validated credentials, that a model or an algorithm made
/// it: the source type of its newest step that names one, down its parents (our transforms and
/// new versions name none). A composite (a person's picture changed by AI) is not: an edit of it
/// is a composite too.
fn is_synthetic(bytes: &[u8], mime: &str) -> bool {
    if !may_carry_credentials(bytes) {
        return false;
    }
    let Ok(Some(store)) = read(bytes, mime, None) else {
        return false;
    };
    if store["validation_state"] == "Invalid" {
        return false;
    }
    lineage(&store)
        .find_map(|m| actions_of(m).find_map(|a| a["digitalSourceType"].as_str()))
        .is_some_and(|uri| {
            uri == Source::TrainedAlgorithmic.uri() || uri == Source::Algorithmic.uri()
        })
}

/// The manifests from the active one down its parents (`parentOf` ingredients), newest first.
fn lineage(store: &Value) -> impl Iterator<Item = &Value> {
    let first = store["active_manifest"].as_str();
    let mut seen = Vec::new();
    std::iter::successors(first.map(|l| (l, &store["manifests"][l])), move |(_, m)| {
        m["ingredients"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|i| i["relationship"] == "parentOf")
            .and_then(|i| i["active_manifest"].as_str())
            .map(|l| (l, &store["manifests"][l]))
    })
    .take_while(move |(label, _)| {
        // A store is data from outside: a cycle or an endless chain ends here.
        let fresh = !seen.contains(label) && seen.len() < 64;
        seen.push(*label);
        fresh
    })
    .map(|(_, m)| m)
}

/// The entries of a manifest's actions assertions.
fn actions_of(manifest: &Value) -> impl Iterator<Item = &Value> {
    manifest["assertions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| {
            a["label"]
                .as_str()
                .is_some_and(|l| l.starts_with("c2pa.actions"))
        })
        .flat_map(|a| a["data"]["actions"].as_array().into_iter().flatten())
}

/// The actions assertion's entries: `c2pa.created` or `c2pa.opened` first, as C2PA requires.
fn actions(claim: &Claim, inputs_synthetic: bool) -> Vec<Value> {
    let parent = claim.parent.is_some().then_some(PARENT);
    let used: Vec<String> = component_labels(claim)
        .into_iter()
        .chain(claim.vendor_output.is_some().then(|| VENDOR.to_string()))
        .collect();
    let agent_params = |agent: &Agent| {
        let mut p = json!({"model": agent.model, "vendor": agent.vendor});
        for (name, value) in &claim.disclosed {
            p[*name] = json!(value);
        }
        p
    };
    let by = |action: &str, agent: &Agent, source: Source| {
        let mut params = agent_params(agent);
        if !used.is_empty() {
            params["ingredientIds"] = json!(used);
        }
        json!({
            "action": action,
            "when": claim.when,
            "softwareAgent": {"name": agent.model},
            "digitalSourceType": source.uri(),
            "description": format!("Made with AI: {} via {}", agent.model, agent.vendor),
            "parameters": params,
        })
    };
    let opened = || {
        json!({
            "action": "c2pa.opened",
            "when": claim.when,
            "parameters": {"ingredientIds": parent.into_iter().collect::<Vec<_>>()},
        })
    };
    match (&claim.made, parent) {
        (Made::ByModel { agent, trained }, None) => {
            vec![by("c2pa.created", agent, Source::made_by(*trained))]
        }
        (Made::ByModel { agent, trained }, Some(_)) => vec![
            opened(),
            by(
                "c2pa.edited",
                agent,
                Source::edited_by(*trained, inputs_synthetic),
            ),
        ],
        (Made::Edited { description }, _) => vec![
            opened(),
            json!({"action": "c2pa.edited", "when": claim.when, "description": description}),
        ],
        (Made::Opened, _) => vec![opened()],
    }
}

/// Whether `bytes` may carry content credentials: a cheap look for C2PA's JUMBF label before
/// the reader's full parse.
pub fn may_carry_credentials(bytes: &[u8]) -> bool {
    memchr::memmem::find(bytes, b"c2pa").is_some()
}

/// The manifest store of `asset`, validated (against `trust_anchors`, a PEM bundle, if given):
/// `None` when it carries none.
pub fn read(
    asset: &[u8],
    mime: &str,
    trust_anchors: Option<&str>,
) -> Result<Option<Value>, ProvenanceError> {
    let reader =
        Reader::from_context(context(trust_anchors)?).with_stream(mime, Cursor::new(asset));
    match reader {
        Ok(reader) => {
            let mut store: Value = serde_json::from_str(&reader.json())
                .map_err(|e| ProvenanceError::Read(e.to_string()))?;
            store["validation_state"] = json!(format!("{:?}", reader.validation_state()));
            Ok(Some(store))
        }
        Err(c2pa::Error::JumbfNotFound) | Err(c2pa::Error::ProvenanceMissing) => Ok(None),
        Err(e) => Err(ProvenanceError::Read(e.to_string())),
    }
}

#[cfg(test)]
mod tests;

/// One step of an asset's history, as its credentials tell it (newest first).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Step {
    /// The manifest's title: the asset it describes (`img_….png`).
    pub asset: Option<String>,
    pub action: String,
    pub when: Option<String>,
    pub model: Option<String>,
    pub vendor: Option<String>,
    pub digital_source_type: Option<String>,
    pub description: Option<String>,
}

/// The history of an asset from its manifest store: every action of the active manifest, then
/// of its parent's, and so on (`c2pa.opened` steps are where one asset became another).
pub fn history(store: &Value) -> Vec<Step> {
    let mut steps = Vec::new();
    for manifest in lineage(store) {
        let title = manifest["title"].as_str().map(str::to_string);
        let mut actions: Vec<Step> = actions_of(manifest)
            .filter(|a| a["action"] != "c2pa.opened")
            .map(|a| {
                let s = |v: &Value| v.as_str().map(str::to_string);
                Step {
                    asset: title.clone(),
                    action: s(&a["action"]).unwrap_or_default(),
                    when: s(&a["when"]),
                    model: s(&a["parameters"]["model"]).or_else(|| s(&a["softwareAgent"]["name"])),
                    vendor: s(&a["parameters"]["vendor"]),
                    digital_source_type: s(&a["digitalSourceType"]),
                    description: s(&a["description"]),
                }
            })
            .collect();
        if actions.is_empty() {
            // A new version of another asset: its content's history is the parent's.
            actions.push(Step {
                asset: title,
                action: "c2pa.opened".into(),
                ..Default::default()
            });
        }
        actions.reverse();
        steps.extend(actions);
    }
    steps
}
