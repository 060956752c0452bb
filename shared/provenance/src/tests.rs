use super::*;

fn png(seed: u8) -> Vec<u8> {
    let mut out = Vec::new();
    let mut e = png::Encoder::new(&mut out, 32, 32);
    e.set_color(png::ColorType::Rgb);
    let mut w = e.write_header().unwrap();
    let data: Vec<u8> = (0..32 * 32 * 3)
        .map(|i| (i as u8).wrapping_mul(seed))
        .collect();
    w.write_image_data(&data).unwrap();
    w.finish().unwrap();
    out
}

fn signer() -> (Signer, Chain) {
    let chain = generate_chain("Test Org", false).unwrap();
    let s = Signer::from_pem(chain.chain_pem.as_bytes(), chain.key_pem.as_bytes()).unwrap();
    (s, chain)
}

fn agent() -> Agent {
    Agent {
        model: "gpt-image-2".into(),
        vendor: "openai".into(),
    }
}

fn created(disclosed: Vec<(&'static str, String)>) -> Claim<'static> {
    Claim {
        title: "img_1.png".into(),
        made: Made::ByModel {
            agent: agent(),
            trained: true,
        },
        when: "2026-12-06T17:00:00Z".into(),
        parent: None,
        components: vec![],
        vendor_output: None,
        disclosed,
    }
}

fn active(store: &Value) -> &Value {
    let label = store["active_manifest"].as_str().unwrap();
    &store["manifests"][label]
}

fn actions_of(manifest: &Value) -> Vec<Value> {
    manifest["assertions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["label"].as_str().unwrap().starts_with("c2pa.actions"))
        .flat_map(|a| a["data"]["actions"].as_array().unwrap().clone())
        .collect()
}

#[test]
fn a_generation_says_made_by_which_model_and_vendor_and_validates_against_its_root() {
    let (s, chain) = signer();
    let signed = s.sign(&png(3), "image/png", &created(vec![])).unwrap();
    let untrusted = read(&signed, "image/png", None).unwrap().unwrap();
    assert_eq!(untrusted["validation_state"], "Valid", "{untrusted:#}");
    let store = read(&signed, "image/png", Some(&chain.root_pem))
        .unwrap()
        .unwrap();
    assert_eq!(store["validation_state"], "Trusted", "{store:#}");
    let actions = actions_of(active(&store));
    assert_eq!(actions[0]["action"], "c2pa.created");
    assert_eq!(
        actions[0]["digitalSourceType"],
        Source::TrainedAlgorithmic.uri()
    );
    assert_eq!(actions[0]["softwareAgent"]["name"], "gpt-image-2");
    assert_eq!(actions[0]["parameters"]["vendor"], "openai");
    assert_eq!(actions[0]["when"], "2026-12-06T17:00:00Z");
    assert!(actions[0]["parameters"].get("prompt").is_none());
}

#[test]
fn the_prompt_is_in_the_manifest_only_when_disclosed() {
    let (s, _) = signer();
    let claim = created(vec![("prompt", "a red fox".into())]);
    let signed = s.sign(&png(3), "image/png", &claim).unwrap();
    let store = read(&signed, "image/png", None).unwrap().unwrap();
    assert_eq!(
        actions_of(active(&store))[0]["parameters"]["prompt"],
        "a red fox"
    );
}

#[test]
fn an_edit_keeps_its_parents_credentials_as_its_ingredients() {
    let (s, chain) = signer();
    let parent = s.sign(&png(3), "image/png", &created(vec![])).unwrap();
    let claim = Claim {
        title: "img_2.png".into(),
        made: Made::ByModel {
            agent: agent(),
            trained: true,
        },
        when: "2026-12-06T17:01:00Z".into(),
        parent: Some(Ingredient {
            title: "img_1.png".into(),
            bytes: &parent,
            mime: "image/png",
        }),
        components: vec![],
        vendor_output: None,
        disclosed: vec![],
    };
    let signed = s.sign(&png(5), "image/png", &claim).unwrap();
    let store = read(&signed, "image/png", Some(&chain.root_pem))
        .unwrap()
        .unwrap();
    assert_eq!(store["validation_state"], "Trusted", "{store:#}");
    let manifest = active(&store);
    let actions = actions_of(manifest);
    let names: Vec<&str> = actions
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["c2pa.opened", "c2pa.edited"]);
    // The parent says it is AI-made, so the edit is too (not a composite with a human's work).
    assert_eq!(
        actions[1]["digitalSourceType"],
        Source::TrainedAlgorithmic.uri()
    );
    let ingredient = &manifest["ingredients"][0];
    assert_eq!(ingredient["relationship"], "parentOf");
    assert_eq!(ingredient["title"], "img_1.png");
    // The parent's own manifest is in the store, so the lineage verifies.
    let parent_label = ingredient["active_manifest"].as_str().unwrap();
    let parent_actions = actions_of(&store["manifests"][parent_label]);
    assert_eq!(parent_actions[0]["action"], "c2pa.created");
}

fn edit_of<'a>(parent: &'a [u8], vendor_output: Option<&'a [u8]>) -> Claim<'a> {
    Claim {
        title: "img_3.png".into(),
        made: Made::ByModel {
            agent: agent(),
            trained: true,
        },
        when: "2026-12-06T17:02:00Z".into(),
        parent: Some(Ingredient {
            title: "upload".into(),
            bytes: parent,
            mime: "image/png",
        }),
        components: vec![],
        vendor_output: vendor_output.map(|bytes| Ingredient {
            title: "vendor output".into(),
            bytes,
            mime: "image/png",
        }),
        disclosed: vec![],
    }
}

#[test]
fn an_upload_edited_by_a_model_is_a_composite() {
    let (s, _) = signer();
    let upload = png(7);
    let signed = s
        .sign(&png(9), "image/png", &edit_of(&upload, None))
        .unwrap();
    let store = read(&signed, "image/png", None).unwrap().unwrap();
    let actions = actions_of(active(&store));
    assert_eq!(
        actions[1]["digitalSourceType"],
        Source::CompositeWithTrainedAlgorithmic.uri()
    );
    assert_eq!(
        Source::edited_by(true, false),
        Source::CompositeWithTrainedAlgorithmic
    );
    assert_eq!(Source::edited_by(false, false), Source::CompositeSynthetic);
    assert_eq!(Source::made_by(false), Source::Algorithmic);
}

#[test]
fn one_changed_byte_fails_validation() {
    let (s, chain) = signer();
    let mut signed = s.sign(&png(3), "image/png", &created(vec![])).unwrap();
    // One byte in the middle of the compressed pixels (the IDAT chunk's data).
    let idat = memchr::memmem::find(&signed, b"IDAT").unwrap();
    let len = u32::from_be_bytes(signed[idat - 4..idat].try_into().unwrap()) as usize;
    let at = idat + 4 + len / 2;
    signed[at] ^= 0x01;
    let store = read(&signed, "image/png", Some(&chain.root_pem))
        .unwrap()
        .unwrap();
    assert_eq!(store["validation_state"], "Invalid", "{store:#}");
}

#[test]
fn an_image_without_credentials_reads_as_none() {
    assert!(read(&png(3), "image/png", None).unwrap().is_none());
    assert!(!may_carry_credentials(&png(3)));
}

#[test]
fn a_self_signed_chain_says_so() {
    let s = Signer::self_signed("Image API").unwrap();
    assert!(s.self_signed);
    let signed = s.sign(&png(3), "image/png", &created(vec![])).unwrap();
    assert!(may_carry_credentials(&signed));
    let store = read(&signed, "image/png", None).unwrap().unwrap();
    let issuer = active(&store)["signature_info"]["common_name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(issuer.contains("self-signed"), "{issuer}");
}

#[test]
fn a_vendors_own_credentials_stay_as_an_ingredient() {
    let (ours, chain) = signer();
    let vendor_chain = generate_chain("Vendor", false).unwrap();
    let vendor = Signer::from_pem(
        vendor_chain.chain_pem.as_bytes(),
        vendor_chain.key_pem.as_bytes(),
    )
    .unwrap();
    let from_vendor = vendor
        .sign(&png(11), "image/png", &created(vec![]))
        .unwrap();
    let upload = png(7);
    let signed = ours
        .sign(&png(9), "image/png", &edit_of(&upload, Some(&from_vendor)))
        .unwrap();
    let store = read(&signed, "image/png", Some(&chain.root_pem))
        .unwrap()
        .unwrap();
    let manifest = active(&store);
    let component = manifest["ingredients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["relationship"] == "componentOf")
        .unwrap();
    let label = component["active_manifest"].as_str().unwrap();
    let issuer = store["manifests"][label]["signature_info"]["common_name"]
        .as_str()
        .unwrap();
    assert!(issuer.starts_with("Vendor"), "{issuer}");
}

#[test]
fn a_bundle_of_chain_and_key_signs_and_half_a_bundle_is_refused() {
    let chain = generate_chain("Test Org", false).unwrap();
    let bundle = format!("{}{}", chain.chain_pem, chain.key_pem);
    let s = Signer::from_bundle(bundle.as_bytes()).unwrap();
    assert!(!s.self_signed);
    s.sign(&png(3), "image/png", &created(vec![])).unwrap();
    let err = Signer::from_bundle(chain.chain_pem.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("private key"), "{err}");
}

#[test]
fn the_history_runs_from_the_newest_step_down_the_parents() {
    let (s, _) = signer();
    let parent = s.sign(&png(3), "image/png", &created(vec![])).unwrap();
    let transformed = Claim {
        title: "img_2.png".into(),
        made: Made::Edited {
            description: "transformed: grayscale".into(),
        },
        when: "2026-12-06T17:05:00Z".into(),
        parent: Some(Ingredient {
            title: "img_1".into(),
            bytes: &parent,
            mime: "image/png",
        }),
        components: vec![],
        vendor_output: None,
        disclosed: vec![],
    };
    let signed = s.sign(&png(5), "image/png", &transformed).unwrap();
    let store = read(&signed, "image/png", None).unwrap().unwrap();
    let steps = history(&store);
    let actions: Vec<(&str, Option<&str>)> = steps
        .iter()
        .map(|s| (s.action.as_str(), s.asset.as_deref()))
        .collect();
    assert_eq!(
        actions,
        [
            ("c2pa.edited", Some("img_2.png")),
            ("c2pa.created", Some("img_1.png"))
        ]
    );
    assert_eq!(
        steps[0].description.as_deref(),
        Some("transformed: grayscale")
    );
    assert_eq!(steps[1].model.as_deref(), Some("gpt-image-2"));
    assert_eq!(steps[1].vendor.as_deref(), Some("openai"));
}

#[test]
fn a_parent_whose_credentials_are_broken_is_still_an_ingredient() {
    let (s, _) = signer();
    let mut parent = s.sign(&png(3), "image/png", &created(vec![])).unwrap();
    // One byte inside the parent's manifest (its caBX chunk): its signature no longer holds.
    let at = memchr::memmem::find(&parent, b"caBX").unwrap();
    parent[at + 200] ^= 0x01;
    let signed = s
        .sign(&png(9), "image/png", &edit_of(&parent, None))
        .unwrap();
    let store = read(&signed, "image/png", None).unwrap().unwrap();
    let manifest = active(&store);
    assert_eq!(manifest["ingredients"][0]["relationship"], "parentOf");
    // Our own manifest still validates; the parent's failure is recorded, not hidden.
    assert_ne!(store["validation_state"], "Invalid", "{store:#}");
    assert!(store.to_string().contains("ingredient"), "{store:#}");
}

#[test]
fn an_edit_of_a_composite_stays_a_composite_and_a_persons_second_input_makes_one() {
    let (s, _) = signer();
    let upload = png(7);
    let composite = s
        .sign(&png(9), "image/png", &edit_of(&upload, None))
        .unwrap();
    let again = s
        .sign(&png(11), "image/png", &edit_of(&composite, None))
        .unwrap();
    let store = read(&again, "image/png", None).unwrap().unwrap();
    assert_eq!(
        actions_of(active(&store))[1]["digitalSourceType"],
        Source::CompositeWithTrainedAlgorithmic.uri()
    );
    // An AI-made first input, and a person's picture as the second: a composite, both named.
    let generated = s.sign(&png(3), "image/png", &created(vec![])).unwrap();
    let mut claim = edit_of(&generated, None);
    claim.components = vec![Ingredient {
        title: "photo".into(),
        bytes: &upload,
        mime: "image/png",
    }];
    let mixed = s.sign(&png(13), "image/png", &claim).unwrap();
    let store = read(&mixed, "image/png", None).unwrap().unwrap();
    let manifest = active(&store);
    assert_eq!(
        actions_of(manifest)[1]["digitalSourceType"],
        Source::CompositeWithTrainedAlgorithmic.uri()
    );
    // The edit names the ingredient it placed (its label resolved to the ingredient's URI).
    let used = actions_of(manifest)[1]["parameters"]["ingredients"].clone();
    assert_eq!(used.as_array().map(Vec::len), Some(1), "{used:#}");
    let relationships: Vec<&str> = manifest["ingredients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["relationship"].as_str().unwrap())
        .collect();
    assert_eq!(relationships, ["parentOf", "componentOf"]);
}
