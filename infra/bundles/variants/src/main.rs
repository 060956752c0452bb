//! The bootstrap of the function that makes delivery variants: the AV1 encoder (libaom) is
//! linked here only, so the functions that store pixels stay within their size goal.

shared::bootstrap! {
    http: {},
    own: {
        "make-variants" => make_variants,
    },
}
