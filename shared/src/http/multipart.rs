//! multipart/form-data bodies (OpenAI's edits and variations), parsed with `multer`. Image parts
//! are recognised by field name and later by their bytes, never by the part's content type: the
//! SDKs may send `application/octet-stream` and no file name.

use crate::error::ApiError;
use lambda_http::Request;

/// The parts of a form, in the order they came.
#[derive(Debug, Default)]
pub struct Form {
    /// (field name, bytes) of the binary fields.
    pub files: Vec<(String, Vec<u8>)>,
    /// (field name, value) of the text fields.
    pub text: Vec<(String, String)>,
}

/// Whether the request carries a multipart body (by its content type).
pub fn is_multipart(req: &Request) -> bool {
    content_type(req).is_some_and(|ct| {
        ct.trim()
            .to_ascii_lowercase()
            .starts_with("multipart/form-data")
    })
}

fn content_type(req: &Request) -> Option<&str> {
    req.headers().get(http::header::CONTENT_TYPE)?.to_str().ok()
}

/// Parses the body. `file_fields` are the names whose parts are binary; every other part must
/// be short text. A body without a boundary, a broken one, or a part over `max_part_bytes` is a
/// 400 naming what is wrong.
pub async fn parse(
    req: &Request,
    file_fields: &[&str],
    max_part_bytes: usize,
) -> Result<Form, ApiError> {
    let ct = content_type(req).unwrap_or("");
    let boundary = multer::parse_boundary(ct).map_err(|_| ApiError::InvalidRequest {
        message:
            "multipart body has no boundary: send 'Content-Type: multipart/form-data; boundary=...'"
                .into(),
        param: None,
        code: "invalid_multipart",
    })?;
    let body = bytes::Bytes::copy_from_slice(req.body().as_ref());
    let stream = futures::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let constraints = multer::Constraints::new()
        .size_limit(multer::SizeLimit::new().per_field(max_part_bytes as u64));
    let mut multipart = multer::Multipart::with_constraints(stream, boundary, constraints);
    let mut form = Form::default();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(broken(e)),
        };
        let name = field.name().unwrap_or("").to_string();
        if name.is_empty() {
            return Err(ApiError::InvalidRequest {
                message: "a multipart part has no field name".into(),
                param: None,
                code: "invalid_multipart",
            });
        }
        let data = field.bytes().await.map_err(|e| match e {
            multer::Error::FieldSizeExceeded { .. } => ApiError::PayloadTooLarge(format!(
                "part '{name}' is larger than {max_part_bytes} bytes; upload large images with POST /v1/uploads"
            )),
            other => broken(other),
        })?;
        if file_fields.contains(&name.as_str()) {
            form.files.push((name, data.to_vec()));
        } else {
            let text = String::from_utf8(data.to_vec()).map_err(|_| {
                ApiError::invalid(name.clone(), format!("field '{name}' must be UTF-8 text"))
            })?;
            form.text.push((name, text));
        }
    }
    Ok(form)
}

fn broken(e: multer::Error) -> ApiError {
    ApiError::InvalidRequest {
        message: format!("malformed multipart body: {e}"),
        param: None,
        code: "invalid_multipart",
    }
}

impl Form {
    /// The text fields as a JSON object for typed parsing: integer and boolean fields are
    /// converted, a repeated text field is an error naming it.
    pub fn text_json(
        &self,
        integers: &[&str],
        booleans: &[&str],
    ) -> Result<serde_json::Value, ApiError> {
        let mut map = serde_json::Map::new();
        for (name, value) in &self.text {
            if map.contains_key(name) {
                return Err(ApiError::invalid(
                    name.clone(),
                    format!("field '{name}' is repeated"),
                ));
            }
            let v = if integers.contains(&name.as_str()) {
                let n: i64 = value.trim().parse().map_err(|_| {
                    ApiError::invalid(
                        name.clone(),
                        format!("{name} must be an integer, not '{value}'"),
                    )
                })?;
                serde_json::Value::from(n)
            } else if booleans.contains(&name.as_str()) {
                match value.trim() {
                    "true" => true.into(),
                    "false" => false.into(),
                    _ => {
                        return Err(ApiError::invalid(
                            name.clone(),
                            format!("{name} must be true or false"),
                        ));
                    }
                }
            } else {
                serde_json::Value::String(value.clone())
            };
            map.insert(name.clone(), v);
        }
        Ok(serde_json::Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::Body;

    fn request(ct: &str, body: Vec<u8>) -> Request {
        http::Request::builder()
            .method("POST")
            .header("content-type", ct)
            .body(Body::Binary(body))
            .unwrap()
    }

    fn body(parts: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, data) in parts {
            out.extend_from_slice(
                format!("--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
                    .as_bytes(),
            );
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"--XyZ--\r\n");
        out
    }

    #[tokio::test]
    async fn files_and_text_in_order() {
        let req = request(
            "multipart/form-data; boundary=XyZ",
            body(&[
                ("image[]", b"\x89PNG1"),
                ("prompt", b"a cat"),
                ("image[]", b"\x89PNG2"),
                ("n", b"2"),
            ]),
        );
        let form = parse(&req, &["image", "image[]", "mask"], 1024)
            .await
            .unwrap();
        assert_eq!(form.files.len(), 2);
        assert_eq!(form.files[1].1, b"\x89PNG2");
        let json = form.text_json(&["n"], &[]).unwrap();
        assert_eq!(json, serde_json::json!({"prompt": "a cat", "n": 2}));
    }

    #[tokio::test]
    async fn broken_bodies_are_400() {
        let no_boundary = request("multipart/form-data", body(&[("prompt", b"x")]));
        let e = parse(&no_boundary, &[], 1024).await.unwrap_err();
        assert_eq!(e.status(), http::StatusCode::BAD_REQUEST);
        let mut truncated = body(&[("prompt", b"x")]);
        truncated.truncate(30);
        let e = parse(
            &request("multipart/form-data; boundary=XyZ", truncated),
            &[],
            1024,
        )
        .await
        .unwrap_err();
        assert_eq!(e.status(), http::StatusCode::BAD_REQUEST, "{e:?}");
        let big = request(
            "multipart/form-data; boundary=XyZ",
            body(&[("image", &[0u8; 2048])]),
        );
        let e = parse(&big, &["image"], 1024).await.unwrap_err();
        assert_eq!(e.status(), http::StatusCode::PAYLOAD_TOO_LARGE);
        let form = parse(
            &request("multipart/form-data; boundary=XyZ", body(&[("n", b"two")])),
            &[],
            1024,
        )
        .await
        .unwrap();
        assert!(form.text_json(&["n"], &[]).is_err());
    }
}
