//! Content Credentials on what the API stores: every generated, edited, varied, transformed or
//! versioned image and every video is signed at store time with a C2PA manifest (made by AI,
//! by which model and vendor, when, from which parent), and read back validated.

use crate::domain::catalog::ProviderKind;
use crate::domain::generation::OutputFormat;
use crate::error::ApiError;
use crate::ports::{Blobs, Store};
use crate::usecases::Deps;
use crate::wire::{ImageProvenance, ProvenanceSigner, ProvenanceStep};
use provenance::{Agent, Claim, Ingredient, Made, Signer};
use std::sync::Arc;

/// The deployment's signer, made on first use (its key may come from Secrets Manager).
#[derive(Default)]
pub struct Credentials(tokio::sync::OnceCell<Arc<Signer>>);

/// The signer, or `None` where the deployment turned Content Credentials off.
pub async fn signer<S, B>(deps: &Deps<S, B>) -> Result<Option<Arc<Signer>>, ApiError> {
    let config = &deps.config.credentials;
    if !config.enabled {
        return Ok(None);
    }
    let signer = deps
        .credentials
        .0
        .get_or_try_init(|| async {
            let signer = match &config.signing_key {
                Some(secret) => Signer::from_bundle(secret.get().await?),
                None => {
                    tracing::warn!(
                        "no C2PA_SIGNING_KEY: outputs are signed with a chain this instance made, which verifiers report as untrusted"
                    );
                    Signer::self_signed(&config.organization)
                }
            };
            signer.map(Arc::new).map_err(|e| {
                ApiError::internal(format!("content credentials cannot be signed: {e}"))
            })
        })
        .await?;
    Ok(Some(signer.clone()))
}

/// Who made an output: the model, the vendor that served it, and whether it is a trained model
/// (the offline renderer is procedural, and says so).
pub fn agent(model: &str, vendor: ProviderKind) -> (Agent, bool) {
    let agent = Agent {
        model: model.to_string(),
        vendor: vendor.as_str().to_string(),
    };
    (agent, vendor != ProviderKind::Local)
}

/// What an output is made of, besides its own pixels.
pub struct Sources<'a> {
    /// The asset or input it was made from (`parentOf`): an edit's first image, a variation's
    /// input, a transform's or a new version's source.
    pub parent: Option<Parent<'a>>,
    /// An edit's other input images (`componentOf`).
    pub components: Vec<Parent<'a>>,
    /// The vendor's own output when it carries credentials (OpenAI's do): kept as an ingredient.
    pub vendor_output: Option<&'a [u8]>,
}

pub struct Parent<'a> {
    pub bytes: &'a [u8],
    /// The library asset it is, if any.
    pub asset_id: Option<&'a str>,
}

/// Signs `bytes` (CPU work: call from a blocking task). `disclosed` names what the user asked
/// to include: the prompt, the author.
pub fn sign(
    signer: &Signer,
    bytes: &[u8],
    format: OutputFormat,
    title: &str,
    made: Made,
    sources: &Sources,
    disclosed: Vec<(&'static str, String)>,
) -> Result<Vec<u8>, ApiError> {
    fn ingredient<'a>(p: &Parent<'a>) -> Ingredient<'a> {
        Ingredient {
            title: p.asset_id.unwrap_or("input image").to_string(),
            bytes: p.bytes,
            mime: sniff(p.bytes),
        }
    }
    let parent = sources.parent.as_ref().map(ingredient);
    let components = sources.components.iter().map(ingredient).collect();
    let vendor_output = sources.vendor_output.map(|bytes| Ingredient {
        title: "vendor output".to_string(),
        bytes,
        mime: sniff(bytes),
    });
    let claim = Claim {
        title: format!("{title}.{}", format.extension()),
        made,
        when: rfc3339_now(),
        parent,
        components,
        vendor_output,
        disclosed,
    };
    signer
        .sign(bytes, format.content_type(), &claim)
        .map_err(|e| ApiError::internal(format!("content credentials: {e}")))
}

/// The media type of an input by its first bytes (an ingredient's reader needs it). Not
/// imaging's sniffer: `get-provenance` reads credentials without linking the codecs.
fn sniff(bytes: &[u8]) -> &'static str {
    match bytes {
        [0x89, b'P', b'N', b'G', ..] => "image/png",
        [0xFF, 0xD8, ..] => "image/jpeg",
        [
            b'R',
            b'I',
            b'F',
            b'F',
            _,
            _,
            _,
            _,
            b'W',
            b'E',
            b'B',
            b'P',
            ..,
        ] => "image/webp",
        [b'G', b'I', b'F', ..] => "image/gif",
        [_, _, _, _, b'f', b't', b'y', b'p', ..] => "video/mp4",
        _ => "image/svg+xml",
    }
}

fn rfc3339_now() -> String {
    let secs = crate::domain::now_epoch();
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = crate::domain::admin::civil_date(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// An asset's Content Credentials, validated against the deployment's trust anchors: the
/// manifest store, what made the asset and its history (another user's id is not found).
pub async fn provenance_of<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    user_id: &str,
    id: &str,
) -> Result<ImageProvenance, ApiError> {
    let record = crate::usecases::library::owned_image(deps, user_id, id).await?;
    let bytes = deps
        .blobs
        .get(&record.key)
        .await?
        .ok_or_else(|| ApiError::internal(format!("object of {id} is missing")))?;
    let anchors = deps.config.credentials.trust_anchors.clone();
    let mime = record.format.content_type();
    let store =
        tokio::task::spawn_blocking(move || provenance::read(&bytes, mime, anchors.as_deref()))
            .await
            .map_err(ApiError::internal)?;
    Ok(match store {
        Ok(store) => described(record.id, store),
        // Credentials that cannot even be read (an upload's, say) are not valid ones.
        Err(e) => ImageProvenance {
            validation_state: "Invalid".into(),
            error: Some(e.to_string()),
            ..described(record.id, None)
        },
    })
}

/// The wire form of a manifest store (`None`: the asset carries no credentials).
fn described(id: String, store: Option<serde_json::Value>) -> ImageProvenance {
    let Some(mut store) = store else {
        return ImageProvenance {
            object: "image.provenance".into(),
            id,
            validation_state: "None".into(),
            made_with_ai: false,
            summary: None,
            signer: None,
            history: Vec::new(),
            manifest_store: None,
            error: None,
        };
    };
    let state = store
        .as_object_mut()
        .and_then(|o| o.remove("validation_state"))
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "Invalid".into());
    let history: Vec<ProvenanceStep> = provenance::history(&store)
        .into_iter()
        .map(|s| ProvenanceStep {
            asset: s.asset,
            action: s.action,
            when: s.when,
            model: s.model,
            vendor: s.vendor,
            digital_source_type: s.digital_source_type,
            description: s.description,
        })
        .collect();
    // Credentials that fail validation prove nothing: their claims are shown, not stated.
    let made_with_ai = state != "Invalid"
        && history.iter().any(|s| {
            s.digital_source_type
                .as_deref()
                .is_some_and(provenance::is_synthetic_source)
        });
    let summary = history
        .iter()
        .find(|s| s.model.is_some() && s.digital_source_type.is_some())
        .map(|s| {
            let model = s.model.as_deref().unwrap_or_default();
            match &s.vendor {
                Some(vendor) => format!("Made with AI: {model} via {vendor}"),
                None => format!("Made with AI: {model}"),
            }
        })
        .filter(|_| made_with_ai);
    let signer = store["active_manifest"]
        .as_str()
        .map(|label| &store["manifests"][label]["signature_info"])
        .map(|info| ProvenanceSigner {
            common_name: info["common_name"].as_str().map(str::to_string),
            issuer: info["issuer"].as_str().map(str::to_string),
        });
    ImageProvenance {
        object: "image.provenance".into(),
        id,
        validation_state: state,
        made_with_ai,
        summary,
        signer,
        history,
        manifest_store: Some(store),
        error: None,
    }
}

/// How one output was made, for [`sign_output`].
pub struct Making {
    pub made: Made,
    /// The asset it was made from: its bytes and id.
    pub parent: Option<(Vec<u8>, Option<String>)>,
    /// The bytes are a vendor's own file, whose credentials, if any, stay as an ingredient.
    pub vendor_output: bool,
    /// What the user asked to disclose: the prompt, the author.
    pub disclosed: Vec<(&'static str, String)>,
}

/// Signs one output off the async threads; as it is when Content Credentials are off.
pub async fn sign_output<S, B>(
    deps: &Deps<S, B>,
    bytes: Vec<u8>,
    format: OutputFormat,
    title: String,
    making: Making,
) -> Result<Vec<u8>, ApiError> {
    let Some(signer) = signer(deps).await? else {
        return Ok(bytes);
    };
    tokio::task::spawn_blocking(move || {
        let Making {
            made,
            parent,
            vendor_output,
            disclosed,
        } = making;
        let sources = Sources {
            parent: parent.as_ref().map(|(bytes, asset_id)| Parent {
                bytes,
                asset_id: asset_id.as_deref(),
            }),
            components: Vec::new(),
            vendor_output: (vendor_output && provenance::may_carry_credentials(&bytes))
                .then_some(bytes.as_slice()),
        };
        sign(&signer, &bytes, format, &title, made, &sources, disclosed)
    })
    .await
    .map_err(ApiError::internal)?
}
