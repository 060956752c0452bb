//! Stored assets: what kind they are, their typed metadata, where they come from (lineage) and
//! where their bytes live (object keys derived from ids only).

pub use super::generation::OutputFormat;

#[cfg(feature = "images")]
impl OutputFormat {
    /// The raster codec of this format; GIF (animated) and SVG (vector) are written apart.
    pub fn raster(self) -> Option<imaging::Format> {
        match self {
            OutputFormat::Png => Some(imaging::Format::Png),
            OutputFormat::Jpeg => Some(imaging::Format::Jpeg),
            OutputFormat::Webp => Some(imaging::Format::Webp),
            OutputFormat::Gif | OutputFormat::Svg | OutputFormat::Mp4 => None,
        }
    }
}

#[cfg(feature = "images")]
impl From<imaging::Format> for OutputFormat {
    fn from(f: imaging::Format) -> Self {
        match f {
            imaging::Format::Png => Self::Png,
            imaging::Format::Jpeg => Self::Jpeg,
            imaging::Format::Webp => Self::Webp,
        }
    }
}

/// What kind of asset a library item is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum AssetKind {
    Image,
    Video,
    Upload,
}

impl AssetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AssetKind::Image => "image",
            AssetKind::Video => "video",
            AssetKind::Upload => "upload",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "image" => Some(AssetKind::Image),
            "video" => Some(AssetKind::Video),
            "upload" => Some(AssetKind::Upload),
            _ => None,
        }
    }
}
/// Metadata of one stored asset; its bytes live in S3 under keys derived from the ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRecord {
    pub id: String,
    pub user_id: String,
    pub kind: AssetKind,
    pub prompt: Option<String>,
    pub revised_prompt: Option<String>,
    pub model: Option<String>,
    /// The vendor that made it (`local`, `openai`, `fal`, ...), when one did.
    pub provider: Option<String>,
    pub width: u32,
    pub height: u32,
    pub format: OutputFormat,
    pub bytes: u64,
    pub key: String,
    pub thumbnail_key: Option<String>,
    pub created_at: i64,
    pub parent_id: Option<String>,
    pub background: Option<String>,
    /// The generation's quality (`low`…`high`, `standard`, `hd`).
    pub quality: Option<String>,
    /// JPEG/WebP quality 0–100 the bytes were encoded with, when one was asked for.
    pub output_compression: Option<u8>,
    pub title: Option<String>,
    pub tags: Vec<String>,
    /// 1 for an original; a new version made by PATCH is one more than its lineage's newest.
    pub version: u32,
    /// The id of the lineage's first version (its own id for a first version).
    pub root_id: String,
    /// Delivery variants made after it was stored (`thumbnail.avif`, `preview.webp`, ...).
    pub variants: Vec<String>,
}

impl ImageRecord {
    /// A new asset of `user_id` with a fresh id, object keys derived from it and the lineage's
    /// parent, version, title and tags; what produced it (prompt, model...) is set by the caller.
    pub fn new(
        user_id: &str,
        kind: AssetKind,
        format: OutputFormat,
        size: (u32, u32),
        bytes: u64,
        lineage: Lineage,
    ) -> Self {
        Self::with_id(
            super::new_id("img"),
            user_id,
            kind,
            format,
            size,
            bytes,
            lineage,
        )
    }

    /// The same, under an id chosen earlier (a paid request lists its objects before it has
    /// its images).
    pub fn with_id(
        id: String,
        user_id: &str,
        kind: AssetKind,
        format: OutputFormat,
        (width, height): (u32, u32),
        bytes: u64,
        lineage: Lineage,
    ) -> Self {
        let (key, thumbnail_key) = object_keys(user_id, &id, format);
        let root_id = lineage.root_id.unwrap_or_else(|| id.clone());
        Self {
            id,
            user_id: user_id.to_string(),
            kind,
            prompt: None,
            revised_prompt: None,
            model: None,
            provider: None,
            width,
            height,
            format,
            bytes,
            key,
            thumbnail_key: Some(thumbnail_key),
            created_at: super::now_epoch(),
            parent_id: lineage.parent_id,
            background: None,
            quality: None,
            output_compression: None,
            title: lineage.title,
            tags: lineage.tags,
            version: lineage.version,
            root_id,
            variants: Vec::new(),
        }
    }
}
impl ImageRecord {
    /// Every object of the asset: its file, its thumbnail and, for a video, its poster and
    /// spritesheet.
    pub fn all_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = std::iter::once(self.key.clone())
            .chain(self.thumbnail_key.clone())
            .collect();
        match self.kind {
            AssetKind::Video => keys.extend(super::videos::extra_keys(&self.user_id, &self.id)),
            // All of them, recorded or not: one may be written just before the asset is deleted.
            AssetKind::Image | AssetKind::Upload => keys.extend(
                VARIANTS
                    .iter()
                    .map(|v| variant_key(&self.user_id, &self.id, &v.name())),
            ),
        }
        keys
    }

    /// The key of `size` in `format` where it exists: the WebP thumbnail made with the asset,
    /// or a recorded variant.
    pub fn variant(&self, size: &str, format: &str) -> Option<String> {
        if (size, format) == ("thumbnail", "webp") {
            return self.thumbnail_key.clone();
        }
        let name = format!("{size}.{format}");
        self.variants
            .contains(&name)
            .then(|| variant_key(&self.user_id, &self.id, &name))
    }
}

/// A delivery variant of an image: a size (`thumbnail`, 256 px; `preview`, 1024 px) in a format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VariantName {
    pub size: &'static str,
    pub format: &'static str,
}

impl VariantName {
    pub fn name(&self) -> String {
        format!("{}.{}", self.size, self.format)
    }
}

/// The variants made for every image after it is stored (the WebP thumbnail is made with it).
pub const VARIANTS: [VariantName; 3] = [
    VariantName {
        size: "thumbnail",
        format: "avif",
    },
    VariantName {
        size: "preview",
        format: "webp",
    },
    VariantName {
        size: "preview",
        format: "avif",
    },
];

/// Where a variant lives: beside nothing else, under the asset's id (so a deletion finds it
/// whether or not it was recorded).
pub fn variant_key(user_id: &str, image_id: &str, name: &str) -> String {
    format!("variants/{user_id}/{image_id}/{name}")
}

/// Where a new asset comes from: its parent (if derived), the version lineage it joins (none:
/// it starts its own) and what it inherits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lineage {
    pub parent_id: Option<String>,
    /// The first version's id of the lineage this asset is a later version in.
    pub root_id: Option<String>,
    pub version: u32,
    pub title: Option<String>,
    pub tags: Vec<String>,
}

impl Lineage {
    /// A first version, derived from `parent_id` if given (an edit, a variation).
    pub fn original(parent_id: Option<String>) -> Self {
        Self {
            parent_id,
            root_id: None,
            version: 1,
            title: None,
            tags: Vec::new(),
        }
    }

    /// A first version derived from `source`, keeping its title and tags (a transform).
    pub fn derived_from(source: &ImageRecord) -> Self {
        Self {
            title: source.title.clone(),
            tags: source.tags.clone(),
            ..Self::original(Some(source.id.clone()))
        }
    }

    /// The next version in `parent`'s lineage, whose newest version is `latest`: numbers are
    /// never reused (storing a taken number fails), whichever version is edited.
    pub fn next_version_of(parent: &ImageRecord, latest: u32) -> Self {
        Self {
            parent_id: Some(parent.id.clone()),
            root_id: Some(parent.root_id.clone()),
            version: latest.max(parent.version) + 1,
            title: parent.title.clone(),
            tags: parent.tags.clone(),
        }
    }
}

/// One version of a lineage, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionEntry {
    pub version: u32,
    pub image_id: String,
    pub parent_id: Option<String>,
}
/// A presigned upload waiting for its object, or completed into an asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRecord {
    pub id: String,
    pub user_id: String,
    pub content_type: String,
    pub declared_bytes: u64,
    pub key: String,
    pub asset_id: Option<String>,
    pub expires_at: i64,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    NewestFirst,
    OldestFirst,
}

/// Object keys come from ids only, never from anything a user typed.
pub fn object_keys(user_id: &str, image_id: &str, format: OutputFormat) -> (String, String) {
    (
        format!("images/{user_id}/{image_id}.{}", format.extension()),
        format!("thumbnails/{user_id}/{image_id}.webp"),
    )
}

/// An asset as other systems see it: what `GET /v1/images/{id}` answers, without URLs.
pub fn asset_detail(r: &ImageRecord) -> serde_json::Value {
    serde_json::json!({
        "id": r.id,
        "object": "image",
        "user_id": r.user_id,
        "kind": r.kind,
        "model": r.model,
        "prompt": r.prompt,
        "size": format!("{}x{}", r.width, r.height),
        "format": r.format.as_str(),
        "bytes": r.bytes,
        "created_at": r.created_at,
        "parent_id": r.parent_id,
        "root_id": r.root_id,
        "version": r.version,
    })
}
