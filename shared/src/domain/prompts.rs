//! Random prompt ideas from a small grammar: not a model, and it says so. The same seed gives
//! the same prompts, a theme narrows the subjects and settings, and a call never repeats itself.

use crate::error::ApiError;

pub const MAX_PROMPTS: u32 = 10;

/// Subjects and settings of a theme.
struct Theme {
    name: &'static str,
    subjects: &'static [&'static str],
    settings: &'static [&'static str],
}

static THEMES: &[Theme] = &[
    Theme {
        name: "fantasy",
        subjects: &[
            "a dragon asleep on its hoard",
            "an elven archer",
            "a wizard's tower",
            "a knight in moss-covered armour",
            "a floating castle",
            "a fox spirit with nine tails",
            "a goblin market stall",
            "a phoenix rising",
        ],
        settings: &[
            "in an enchanted forest",
            "above a sea of clouds",
            "inside a crystal cave",
            "at the edge of a ruined kingdom",
            "under two moons",
            "beside a glowing waterfall",
        ],
    },
    Theme {
        name: "science-fiction",
        subjects: &[
            "a lone astronaut",
            "a colony ship",
            "a rusted maintenance robot",
            "a neon-lit hover taxi",
            "an orbital greenhouse",
            "a cyborg street musician",
            "a derelict space station",
            "a rover crossing dunes",
        ],
        settings: &[
            "on a red desert planet",
            "in a rain-soaked megacity",
            "at the rim of a black hole",
            "inside a glass biodome",
            "over a ringed gas giant",
            "in a zero-gravity hangar",
        ],
    },
    Theme {
        name: "nature",
        subjects: &[
            "an ancient oak",
            "a mountain lake",
            "a field of wildflowers",
            "a thundercloud",
            "a coral reef",
            "a birch forest",
            "a glacier",
            "a lone cypress",
        ],
        settings: &[
            "at sunrise",
            "after a spring storm",
            "under the aurora",
            "in thick morning fog",
            "in deep autumn",
            "seen from high above",
        ],
    },
    Theme {
        name: "city",
        subjects: &[
            "a corner café",
            "a night market",
            "a tram crossing a bridge",
            "rooftop gardens",
            "a rainy crosswalk",
            "a bookshop window",
            "a harbour with fishing boats",
            "a subway platform",
        ],
        settings: &[
            "in Lisbon",
            "in old Kyoto",
            "in a snowy Montreal street",
            "in a busy Marrakesh square",
            "in 1920s Paris",
            "in a future Lagos",
        ],
    },
    Theme {
        name: "portrait",
        subjects: &[
            "an elderly fisherman",
            "a young violinist",
            "a beekeeper",
            "a marathon runner",
            "a street chef",
            "a grandmother knitting",
            "a deep-sea diver",
            "a painter in her studio",
        ],
        settings: &[
            "by a window",
            "against a plain backdrop",
            "in their workshop",
            "on a windy pier",
            "under stage lights",
            "in golden-hour sun",
        ],
    },
    Theme {
        name: "animals",
        subjects: &[
            "a red panda",
            "a snowy owl",
            "a family of otters",
            "a chameleon",
            "a herd of horses",
            "a humpback whale",
            "a sleepy cat",
            "a hummingbird",
        ],
        settings: &[
            "in tall grass",
            "on a mossy branch",
            "in a frozen river",
            "among lily pads",
            "on a sunny windowsill",
            "in shallow turquoise water",
        ],
    },
    Theme {
        name: "food",
        subjects: &[
            "a stack of pancakes",
            "a bowl of ramen",
            "a rustic sourdough loaf",
            "a platter of sushi",
            "a lemon tart",
            "street tacos",
            "a cup of matcha",
            "a summer fruit salad",
        ],
        settings: &[
            "on a wooden table",
            "in a busy kitchen",
            "at a picnic",
            "on marble",
            "in a night market stall",
            "by a sunny window",
        ],
    },
    Theme {
        name: "architecture",
        subjects: &[
            "a brutalist library",
            "a glass pavilion",
            "a spiral staircase",
            "a lighthouse",
            "a timber chapel",
            "a desert villa",
            "an abandoned factory",
            "a cliffside monastery",
        ],
        settings: &[
            "at dusk",
            "in heavy snow",
            "reflected in still water",
            "from a low angle",
            "in midsummer light",
            "wrapped in fog",
        ],
    },
    Theme {
        name: "abstract",
        subjects: &[
            "interlocking circles",
            "flowing ribbons of colour",
            "fractured glass shapes",
            "a field of dots",
            "stacked paper layers",
            "swirling ink",
            "geometric waves",
            "light trails",
        ],
        settings: &[
            "on a dark background",
            "in pastel tones",
            "in primary colours",
            "in monochrome",
            "with a metallic sheen",
            "in a grid",
        ],
    },
];

static STYLES: &[&str] = &[
    "A photograph",
    "A watercolour painting",
    "An oil painting",
    "A pencil sketch",
    "A 3D render",
    "A flat vector illustration",
    "A cinematic still",
    "A linocut print",
    "A pastel drawing",
    "An isometric illustration",
];
static LIGHT: &[&str] = &[
    "soft diffuse light",
    "dramatic side lighting",
    "warm golden light",
    "cool blue hour light",
    "neon reflections",
    "candlelight",
    "overcast daylight",
    "backlit haze",
];
static DETAILS: &[&str] = &[
    "highly detailed",
    "minimal composition",
    "shallow depth of field",
    "wide angle",
    "rich textures",
    "muted palette",
    "vivid colours",
    "symmetrical framing",
];

/// The themes a request may name.
pub fn themes() -> impl Iterator<Item = &'static str> {
    THEMES.iter().map(|t| t.name)
}

/// SplitMix64: small, and the same sequence on every platform and version.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn pick<'a>(&mut self, from: &'a [&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
}

/// Checks `theme` against the themes (exactly, as the document's pattern does); `None` mixes
/// them all.
pub fn theme(name: Option<&str>) -> Result<Option<&'static str>, ApiError> {
    match name {
        None => Ok(None),
        Some(n) => THEMES
            .iter()
            .find(|t| t.name == n)
            .map(|t| Some(t.name))
            .ok_or_else(|| {
                ApiError::invalid(
                    "theme",
                    format!(
                        "unknown theme '{n}'; themes: {}",
                        themes().collect::<Vec<_>>().join(", ")
                    ),
                )
            }),
    }
}

/// `n` different prompts of `theme` (all themes when `None`), the same ones for the same seed.
pub fn generate(n: u32, theme: Option<&str>, seed: u64) -> Vec<String> {
    let pool: Vec<&Theme> = THEMES
        .iter()
        .filter(|t| theme.is_none_or(|name| t.name == name))
        .collect();
    let mut rng = Mix(seed);
    let mut out: Vec<String> = Vec::with_capacity(n as usize);
    // Thousands of combinations per theme: a handful of draws always finds n different ones.
    for _ in 0..n * 50 {
        if out.len() == n as usize {
            break;
        }
        let t = pool[(rng.next() % pool.len() as u64) as usize];
        let prompt = format!(
            "{} of {} {}, {}, {}",
            rng.pick(STYLES),
            rng.pick(t.subjects),
            rng.pick(t.settings),
            rng.pick(LIGHT),
            rng.pick(DETAILS)
        );
        if !out.contains(&prompt) {
            out.push(prompt);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_prompts_and_a_call_never_repeats() {
        let a = generate(10, None, 42);
        assert_eq!(a, generate(10, None, 42));
        assert_ne!(a, generate(10, None, 43));
        assert_eq!(a.len(), 10);
        let mut unique = a.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 10);
    }

    #[test]
    fn a_theme_keeps_to_its_subjects_and_unknown_themes_are_refused() {
        let food = THEMES.iter().find(|t| t.name == "food").unwrap();
        for p in generate(10, Some("food"), 7) {
            assert!(food.subjects.iter().any(|s| p.contains(s)), "{p}");
        }
        assert_eq!(theme(Some("food")).unwrap(), Some("food"));
        assert_eq!(theme(None).unwrap(), None);
        for not_one in ["Food", "", " food"] {
            assert_eq!(
                theme(Some(not_one)).unwrap_err().param(),
                Some("theme"),
                "{not_one:?}"
            );
        }
        let e = theme(Some("westerns")).unwrap_err();
        assert_eq!(e.param(), Some("theme"));
        assert!(e.to_string().contains("science-fiction"), "{e}");
    }
}
