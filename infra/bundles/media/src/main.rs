//! The bootstrap of the functions that make and store pixels, and of the queue worker: the
//! image codecs and OpenH264 are linked here only. Each function is its own Lambda; `_HANDLER`
//! (the function's `Handler`) picks which one this process serves.

shared::bootstrap! {
    http: {
        "complete-upload" => complete_upload,
        "create-video" => create_video,
        "get-provenance" => get_provenance,
        "image-variation" => image_variation,
        "transform-image" => transform_image,
        "update-image" => update_image,
    },
    streaming: {
        "edit-image" => edit_image,
        "generate-image" => generate_image,
    },
    own: {
        "worker" => worker,
    },
}
