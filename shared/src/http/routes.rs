//! Route templates as API Gateway matches them, shared by the local gateway (which routes) and
//! the functions (which explain a miss): literal segments beat parameters, which beat a greedy
//! `{proxy+}`; a trailing slash is another path.

use std::collections::BTreeMap;

/// How specifically `template` matches `path` (higher is more specific) and the raw
/// (undecoded) values of its parameters; `None` if it does not match.
pub fn match_route(template: &str, path: &str) -> Option<(usize, BTreeMap<String, String>)> {
    let t: Vec<&str> = template.trim_start_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut params = BTreeMap::new();
    let mut score = 0;
    for (i, seg) in t.iter().enumerate() {
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix("+}")) {
            let rest = p.get(i..)?.join("/");
            if rest.is_empty() {
                return None;
            }
            params.insert(name.to_string(), rest);
            return Some((score, params));
        }
        let actual = p.get(i)?;
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            if actual.is_empty() {
                return None;
            }
            params.insert(name.to_string(), actual.to_string());
            score += 1;
        } else if seg == actual {
            score += 100;
        } else {
            return None;
        }
    }
    (t.len() == p.len()).then_some((score + 1_000, params))
}

/// The methods of the most specific templates that match `path` (what API Gateway would route
/// it by), sorted; empty when no template does.
pub fn methods_for<'a>(
    routes: impl IntoIterator<Item = (&'a str, &'a str)>,
    path: &str,
) -> Vec<String> {
    let matching: Vec<(usize, &str)> = routes
        .into_iter()
        .filter_map(|(method, template)| match_route(template, path).map(|(s, _)| (s, method)))
        .collect();
    let Some(best) = matching.iter().map(|(s, _)| *s).max() else {
        return Vec::new();
    };
    let mut methods: Vec<String> = matching
        .into_iter()
        .filter(|(s, _)| *s == best)
        .map(|(_, m)| m.to_string())
        .collect();
    methods.sort();
    methods.dedup();
    methods
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_beats_parameter_beats_greedy() {
        let (lit, _) = match_route("/v1/api-keys", "/v1/api-keys").unwrap();
        let (param, p) = match_route("/v1/api-keys/{id}", "/v1/api-keys/key_1").unwrap();
        let (greedy, g) = match_route("/{proxy+}", "/v1/api-keys/key_1").unwrap();
        assert_eq!(p["id"], "key_1");
        assert_eq!(g["proxy"], "v1/api-keys/key_1");
        assert!(param > greedy);
        assert!(match_route("/{proxy+}", "/v1/api-keys").unwrap().0 < lit);
        assert!(match_route("/v1/api-keys/{id}", "/v1/api-keys").is_none());
        assert!(match_route("/v1/api-keys/{id}", "/v1/api-keys/").is_none());
        assert!(match_route("/v1/me", "/v1/me/x").is_none());
        assert!(
            match_route("/v1/me", "/v1/me/").is_none(),
            "a trailing slash is another path"
        );
    }

    #[test]
    fn methods_are_those_of_the_most_specific_template() {
        let routes = [
            ("POST", "/v1/images/generations"),
            ("GET", "/v1/images/{id}"),
            ("DELETE", "/v1/images/{id}"),
            ("GET", "/v1/images"),
        ];
        assert_eq!(methods_for(routes, "/v1/images/generations"), ["POST"]);
        assert_eq!(methods_for(routes, "/v1/images/img_1"), ["DELETE", "GET"]);
        assert!(methods_for(routes, "/v1/images/generations/").is_empty());
        assert!(methods_for(routes, "/v1/images/").is_empty());
    }
}
