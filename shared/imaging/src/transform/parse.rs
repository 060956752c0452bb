//! `Transform::parse`: the request body, field by field, each bad value naming its place.

use super::*;
use crate::Invalid;
use image::Rgba;
use serde_json::Value;

struct Fields<'a> {
    obj: &'a serde_json::Map<String, Value>,
    at: String,
    used: Vec<&'static str>,
}

impl<'a> Fields<'a> {
    fn param(&self, name: &str) -> String {
        format!("{}.{name}", self.at)
    }

    fn number(
        &mut self,
        name: &'static str,
        lo: f64,
        hi: f64,
        default: Option<f64>,
    ) -> Result<f64, Invalid> {
        self.used.push(name);
        match self.obj.get(name) {
            None | Some(Value::Null) => default.ok_or_else(|| Invalid::missing(&self.param(name))),
            Some(v) => {
                let n = v.as_f64().ok_or_else(|| {
                    Invalid::new(self.param(name), format!("{name} must be a number"))
                })?;
                if !(lo..=hi).contains(&n) {
                    return Err(Invalid::new(
                        self.param(name),
                        format!("{name} must be between {lo} and {hi}"),
                    ));
                }
                Ok(n)
            }
        }
    }

    fn integer(
        &mut self,
        name: &'static str,
        lo: u32,
        hi: u32,
        default: Option<u32>,
    ) -> Result<u32, Invalid> {
        let n = self.number(name, lo as f64, hi as f64, default.map(f64::from))?;
        if n.fract() != 0.0 {
            return Err(Invalid::new(
                self.param(name),
                format!("{name} must be an integer"),
            ));
        }
        Ok(n as u32)
    }

    fn optional_integer(
        &mut self,
        name: &'static str,
        lo: u32,
        hi: u32,
    ) -> Result<Option<u32>, Invalid> {
        match self.obj.get(name) {
            None | Some(Value::Null) => {
                self.used.push(name);
                Ok(None)
            }
            Some(_) => self.integer(name, lo, hi, None).map(Some),
        }
    }

    fn string(&mut self, name: &'static str) -> Result<Option<&'a str>, Invalid> {
        self.used.push(name);
        match self.obj.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(Invalid::new(
                self.param(name),
                format!("{name} must be a string"),
            )),
        }
    }

    fn boolean(&mut self, name: &'static str) -> Result<bool, Invalid> {
        self.used.push(name);
        match self.obj.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(Invalid::new(
                self.param(name),
                format!("{name} must be true or false"),
            )),
        }
    }

    fn finish(self) -> Result<(), Invalid> {
        match self
            .obj
            .keys()
            .find(|k| *k != "op" && !self.used.contains(&k.as_str()))
        {
            Some(extra) => Err(Invalid::new(
                self.param(extra),
                format!("unknown field '{extra}' for this operation"),
            )),
            None => Ok(()),
        }
    }
}

fn colour(param: String, s: &str) -> Result<Rgba<u8>, Invalid> {
    if s == "transparent" {
        return Ok(Rgba([0, 0, 0, 0]));
    }
    let hex = s.strip_prefix('#').unwrap_or("");
    let bad = || {
        Invalid::new(
            param.clone(),
            "background must be \"transparent\", #RRGGBB or #RRGGBBAA",
        )
    };
    if !(hex.len() == 6 || hex.len() == 8) || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| bad());
    Ok(Rgba([
        byte(0)?,
        byte(2)?,
        byte(4)?,
        if hex.len() == 8 { byte(6)? } else { 255 },
    ]))
}

impl Transform {
    // Long: one short arm per operation, in the order of the documentation; a table to read.
    pub fn parse(body: &Value) -> Result<Self, Invalid> {
        let obj = body
            .as_object()
            .ok_or_else(|| Invalid::new("body", "the body must be a JSON object"))?;
        if let Some(extra) = obj
            .keys()
            .find(|k| !["operations", "output_format", "quality"].contains(&k.as_str()))
        {
            return Err(Invalid::new(
                extra.clone(),
                format!("Unrecognized request argument supplied: {extra}"),
            ));
        }
        let list = match obj.get("operations") {
            Some(Value::Array(a)) => a,
            None => return Err(Invalid::missing("operations")),
            Some(_) => {
                return Err(Invalid::new("operations", "operations must be an array"));
            }
        };
        if list.is_empty() || list.len() > MAX_OPERATIONS {
            return Err(Invalid::new(
                "operations",
                format!("send 1 to {MAX_OPERATIONS} operations"),
            ));
        }
        let mut ops = Vec::with_capacity(list.len());
        for (i, item) in list.iter().enumerate() {
            let at = format!("operations[{i}]");
            let o = item
                .as_object()
                .ok_or_else(|| Invalid::new(at.clone(), "each operation is an object"))?;
            let name = o
                .get("op")
                .and_then(Value::as_str)
                .ok_or_else(|| Invalid::missing(&format!("{at}.op")))?;
            let mut f = Fields {
                obj: o,
                at: at.clone(),
                used: Vec::new(),
            };
            let op = match name {
                "resize" => {
                    let width = f.optional_integer("width", 1, MAX_EDGE)?;
                    let height = f.optional_integer("height", 1, MAX_EDGE)?;
                    if width.is_none() && height.is_none() {
                        return Err(Invalid::missing(&format!("{at}.width")));
                    }
                    let fit = match f.string("fit")?.unwrap_or("contain") {
                        "contain" => Fit::Contain,
                        "cover" => Fit::Cover,
                        "fill" => Fit::Fill,
                        _ => {
                            return Err(Invalid::new(
                                f.param("fit"),
                                "fit must be contain, cover or fill",
                            ));
                        }
                    };
                    Op::Resize {
                        width,
                        height,
                        fit,
                        upscale: f.boolean("upscale")?,
                    }
                }
                "crop" => Op::Crop {
                    x: f.integer("x", 0, MAX_EDGE, Some(0))?,
                    y: f.integer("y", 0, MAX_EDGE, Some(0))?,
                    width: f.integer("width", 1, MAX_EDGE, None)?,
                    height: f.integer("height", 1, MAX_EDGE, None)?,
                },
                "rotate" => {
                    let degrees = f.number("degrees", -360.0, 360.0, None)? as f32;
                    let background = match f.string("background")? {
                        None => Rgba([0, 0, 0, 0]),
                        Some(s) => colour(f.param("background"), s)?,
                    };
                    Op::Rotate {
                        degrees,
                        background,
                    }
                }
                "flip" => Op::Flip,
                "flop" => Op::Flop,
                "grayscale" => Op::Grayscale,
                "blur" => Op::Blur {
                    sigma: f.number("sigma", 0.1, imaging::MAX_BLUR_SIGMA as f64, None)? as f32,
                },
                "sharpen" => Op::Sharpen {
                    sigma: f.number("sigma", 0.1, 10.0, Some(1.0))? as f32,
                    threshold: f.integer("threshold", 0, 255, Some(0))? as i32,
                },
                "brightness" => Op::Brightness {
                    factor: f.number("factor", 0.0, 4.0, None)? as f32,
                },
                "contrast" => Op::Contrast {
                    factor: f.number("factor", 0.0, 4.0, None)? as f32,
                },
                "saturation" => Op::Saturation {
                    factor: f.number("factor", 0.0, 4.0, None)? as f32,
                },
                "hue" => Op::Hue {
                    degrees: f.number("degrees", -360.0, 360.0, None)? as f32,
                },
                "gamma" => Op::Gamma {
                    value: f.number("value", 0.1, 10.0, None)? as f32,
                },
                "remove_background" => Op::RemoveBackground {
                    tolerance: f.integer(
                        "tolerance",
                        0,
                        128,
                        Some(imaging::WHITE_TOLERANCE as u32),
                    )? as u8,
                },
                other => {
                    return Err(Invalid::new(
                        format!("{at}.op"),
                        format!(
                            "unknown operation '{other}'; supported: {}",
                            OPERATIONS.join(", ")
                        ),
                    ));
                }
            };
            f.finish()?;
            ops.push(op);
        }
        let output_format = match obj.get("output_format") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(Format::parse(s).ok_or_else(|| {
                Invalid::new("output_format", "output_format must be png, jpeg or webp")
            })?),
            Some(_) => {
                return Err(Invalid::new(
                    "output_format",
                    "output_format must be a string",
                ));
            }
        };
        let quality = match obj.get("quality") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .filter(|q| (1..=100).contains(q))
                    .ok_or_else(|| {
                        Invalid::new("quality", "quality must be an integer from 1 to 100")
                    })? as u8,
            ),
        };
        Ok(Self {
            ops,
            output_format,
            quality,
        })
    }
}
