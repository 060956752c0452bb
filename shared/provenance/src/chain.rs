//! Certificate chains C2PA accepts: a P-256 root CA and an end-entity signing certificate (not a
//! CA, digitalSignature, emailProtection, an authority key identifier), for `make run`, the
//! tests, and a deployment that brought no certificate of its own.

use crate::ProvenanceError;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};

/// PEM text: the signing chain (end entity, then root), the end entity's PKCS#8 key, and the
/// root alone (what a verifier trusts).
pub struct Chain {
    pub chain_pem: String,
    pub key_pem: String,
    pub root_pem: String,
}

fn name(organization: &str, common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, organization);
    dn.push(DnType::CommonName, common_name);
    dn
}

/// A new chain for `organization`; `self_signed` says so in the names a verifier shows.
pub fn generate_chain(organization: &str, self_signed: bool) -> Result<Chain, ProvenanceError> {
    let fail = |e: rcgen::Error| ProvenanceError::Credentials(e.to_string());
    let suffix = if self_signed { " (self-signed)" } else { "" };
    let now = std::time::SystemTime::now();
    let day = std::time::Duration::from_secs(24 * 3600);

    let root_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(fail)?;
    let mut root = CertificateParams::default();
    root.distinguished_name = name(organization, &format!("{organization} root CA{suffix}"));
    root.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    root.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    root.not_before = (now - day).into();
    root.not_after = (now + 7300 * day).into();
    let root_cert = root.self_signed(&root_key).map_err(fail)?;
    let issuer = Issuer::new(root, root_key);

    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(fail)?;
    let mut leaf = CertificateParams::default();
    leaf.distinguished_name = name(
        organization,
        &format!("{organization} content credentials{suffix}"),
    );
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::EmailProtection];
    leaf.use_authority_key_identifier_extension = true;
    leaf.not_before = (now - day).into();
    // Signatures carry no trusted timestamp (a time-stamp authority is out of a Lambda's reach
    // here): a test or self-made certificate outlives what it signs by a wide margin.
    leaf.not_after = (now + 3650 * day).into();
    let leaf_cert = leaf.signed_by(&key, &issuer).map_err(fail)?;

    Ok(Chain {
        chain_pem: format!("{}{}", leaf_cert.pem(), root_cert.pem()),
        key_pem: key.serialize_pem(),
        root_pem: root_cert.pem(),
    })
}
