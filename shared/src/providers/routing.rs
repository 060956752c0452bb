//! The configured vendors, and a plan sent to the first of its vendors that is up: the operator's
//! order, failover within the deadline, circuits.

use super::*;

/// Every configured provider; sends a plan to the first of its vendors that is up.
pub struct Providers {
    /// The local renderer, then every vendor this deployment has a key for.
    vendors: Vec<Box<dyn Vendor>>,
    /// The operator's order of vendors (`VENDOR_PREFERENCE`); unlisted ones follow, cheapest
    /// first.
    preference: Vec<ProviderKind>,
    budget: Duration,
    max_retries: u32,
    circuits: Arc<dyn Circuits>,
    /// Where large inputs go for vendors to fetch; without it, every input goes inline.
    staging: Option<Arc<dyn Staging>>,
}

/// Time kept back for the next vendor when one fails over: a vendor that hangs must not use
/// up the whole budget of a synchronous request.
pub(super) const FAILOVER_RESERVE: Duration = Duration::from_secs(8);

impl Providers {
    pub fn from_config(config: &Vendors) -> Self {
        let (budget, retries) = (config.provider_timeout, config.provider_max_retries);
        let mut vendors: Vec<Box<dyn Vendor>> = vec![Box::new(local::LocalProvider)];
        if let Some(key) = &config.openai_api_key {
            vendors.push(Box::new(openai::OpenAiProvider::new(
                &config.openai_base_url,
                key,
                budget,
                retries,
                &config.openai_image_hosts,
            )));
        }
        if let Some(key) = &config.stability_api_key {
            vendors.push(Box::new(stability::StabilityProvider::new(
                &config.stability_base_url,
                key,
            )));
        }
        if let Some(key) = &config.replicate_api_token {
            vendors.push(Box::new(replicate::ReplicateProvider::new(
                &config.replicate_base_url,
                key,
            )));
        }
        if let Some(key) = &config.fal_key {
            vendors.push(Box::new(fal::FalProvider::new(&config.fal_queue_url, key)));
        }
        Self {
            vendors,
            preference: config.vendor_preference.clone(),
            budget,
            max_retries: retries,
            circuits: Arc::new(circuits::LocalCircuits::default()),
            staging: None,
        }
    }

    /// Sends large inputs to vendors as URLs from `staging` (object storage) instead of inline.
    pub fn set_staging(&mut self, staging: Arc<dyn Staging>) {
        self.staging = Some(staging);
    }

    /// Where a call's large inputs go.
    pub fn staging(&self) -> Option<&dyn Staging> {
        self.staging.as_deref()
    }

    /// Keeps circuits where every instance sees them (the table) instead of in this process.
    pub fn set_circuits(&mut self, circuits: Arc<dyn Circuits>) {
        self.circuits = circuits;
    }

    fn vendor(&self, kind: ProviderKind) -> Option<&dyn Vendor> {
        self.vendors
            .iter()
            .find(|v| v.kind() == kind)
            .map(|v| v.as_ref())
    }

    pub fn serves(&self, kind: ProviderKind) -> bool {
        self.vendor(kind).is_some()
    }

    /// A route's vendor, or why it cannot serve.
    fn configured(&self, route: &Route) -> Result<&dyn Vendor, ProviderError> {
        self.vendor(route.vendor).ok_or_else(|| {
            ProviderError::Unreachable(format!("{} is not configured", route.vendor.as_str()))
        })
    }

    /// The default model: OpenAI's own default when configured, else Stability's, else FLUX
    /// (fal or Replicate), else the local renderer.
    pub fn default_model(&self) -> &'static str {
        if self.serves(ProviderKind::OpenAi) {
            "gpt-image-1-mini"
        } else if self.serves(ProviderKind::Stability) {
            "stable-image-core"
        } else if self.serves(ProviderKind::Fal) || self.serves(ProviderKind::Replicate) {
            "flux-schnell"
        } else {
            "local-procedural"
        }
    }

    /// A synchronous request's call: the configured budget from now.
    pub fn call(&self) -> Call<'_> {
        Call {
            deadline: Instant::now() + self.budget,
            max_retries: self.max_retries,
            watch: None,
            staging: self.staging(),
            partials: None,
        }
    }

    /// A call that must end by `deadline` (a synchronous request's vendor budget).
    pub fn call_until(&self, deadline: Instant) -> Call<'_> {
        Call {
            deadline,
            ..self.call()
        }
    }

    /// A generation, edit (`inputs`) or variation (`variation`) within `call`: a synchronous
    /// request's budget (`call_until`), or a job's longer one and its cancel.
    pub async fn generate_within(
        &self,
        plan: &GenerationPlan,
        inputs: Option<&EditInputs>,
        variation: Option<&InputImage>,
        call: Call<'_>,
    ) -> Result<Served, ProviderError> {
        let op = match (inputs, variation) {
            (Some(i), _) => Op::Edit(i),
            (None, Some(v)) => Op::Variation(v),
            (None, None) => Op::Generate,
        };
        self.route(plan, op, call).await
    }

    /// The plan's vendors in the order they are tried: the operator's preference, then cost.
    pub fn ordered(&self, routes: &[&'static Route]) -> Vec<&'static Route> {
        let rank = |k: ProviderKind| {
            self.preference
                .iter()
                .position(|p| *p == k)
                .unwrap_or(usize::MAX)
        };
        let mut out: Vec<&'static Route> = routes
            .iter()
            .copied()
            .filter(|r| self.serves(r.vendor))
            .collect();
        out.sort_by_key(|r| (rank(r.vendor), r.cost_mills));
        out
    }

    async fn route(
        &self,
        plan: &GenerationPlan,
        op: Op<'_>,
        call: Call<'_>,
    ) -> Result<Served, ProviderError> {
        let (images, vendor) = self
            .failover(
                plan.model.id,
                &plan.routes,
                call,
                |route, this| async move {
                    // Boxed: each vendor's future is large, and a handler's future holds this one.
                    exactly(plan, Box::pin(self.one(plan, route, op, this)).await?)
                },
            )
            .await?;
        Ok(Served { images, vendor })
    }

    /// A clip of a vendor's video model made from `picture` (encoded, already at the plan's
    /// frame): the MP4's bytes, and the vendor that made it.
    pub async fn video(
        &self,
        plan: &crate::domain::videos::VideoPlan,
        picture: &[u8],
        call: Call<'_>,
    ) -> Result<(Vec<u8>, ProviderKind), ProviderError> {
        let image = polling::input_ref(picture, &call).await?;
        self.failover(plan.model.id, &plan.routes, call, |route, this| {
            let image = image.clone();
            async move {
                self.configured(route)?
                    .video(plan, route, image, this)
                    .await
            }
        })
        .await
    }

    /// Tries `routes` in order: a vendor that is down (429, 5xx, a timeout, or its circuit
    /// open) hands over to the next while the deadline allows; any other answer, a content
    /// refusal above all, is final.
    async fn failover<'c, T, F, Fut>(
        &self,
        model: &str,
        routes: &[&'static Route],
        call: Call<'c>,
        attempt: F,
    ) -> Result<(T, ProviderKind), ProviderError>
    where
        F: Fn(&'static Route, Call<'c>) -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let routes = self.ordered(routes);
        let mut last: Option<ProviderError> = None;
        for (i, route) in routes.iter().enumerate() {
            let vendor = route.vendor;
            let now = crate::domain::now_epoch() as u64;
            let circuit = if vendor == ProviderKind::Local {
                crate::domain::circuits::Circuit::default()
            } else {
                self.circuits.read(vendor).await
            };
            if circuit.is_open(now) {
                tracing::warn!(
                    event = "vendor_skipped",
                    vendor = vendor.as_str(),
                    model,
                    "circuit open: vendor skipped"
                );
                last.get_or_insert(ProviderError::RateLimited {
                    retry_after_secs: circuit.open_until.map(|t| t.saturating_sub(now).max(1)),
                });
                continue;
            }
            let remaining = call.deadline.saturating_duration_since(Instant::now());
            if i > 0 && remaining < FAILOVER_RESERVE / 2 {
                break;
            }
            let more = i + 1 < routes.len();
            // What the next vendors keep: a third of what is left (a job's long budget is
            // shared), at least FAILOVER_RESERVE.
            let reserve = (remaining / 3).max(FAILOVER_RESERVE);
            let this = Call {
                deadline: if more && remaining > reserve * 2 {
                    call.deadline - reserve
                } else {
                    call.deadline
                },
                // With a vendor to fail over to, a failing one is not retried first.
                max_retries: if more { 0 } else { call.max_retries },
                ..call
            };
            match attempt(route, this).await {
                Ok(made) => {
                    if circuit.failures > 0 {
                        self.circuits.succeeded(vendor).await;
                    }
                    return Ok((made, vendor));
                }
                Err(e) if e.is_outage() => {
                    if vendor != ProviderKind::Local
                        && e.opens_circuit()
                        && self.circuits.failed(vendor, now).await
                    {
                        tracing::error!(
                            event = "circuit_opened",
                            vendor = vendor.as_str(),
                            "vendor circuit opened"
                        );
                    }
                    if more {
                        tracing::warn!(event = "vendor_failover", vendor = vendor.as_str(), model, error = %e, "failing over to the next vendor");
                    }
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            ProviderError::Unreachable(format!("no configured vendor serves {model}"))
        }))
    }

    async fn one(
        &self,
        plan: &GenerationPlan,
        route: &'static Route,
        op: Op<'_>,
        call: Call<'_>,
    ) -> Result<Vec<ProviderImage>, ProviderError> {
        self.configured(route)?.images(plan, route, op, call).await
    }
}

pub(super) fn exactly(
    plan: &GenerationPlan,
    images: Vec<ProviderImage>,
) -> Result<Vec<ProviderImage>, ProviderError> {
    if images.len() != plan.n as usize {
        return Err(ProviderError::BadOutput(format!(
            "asked for {} images, got {}",
            plan.n,
            images.len()
        )));
    }
    Ok(images)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::generation::CreateImageRequest;
    use serde_json::json;
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    /// Providers with fal and Replicate on local fakes, nothing else but the local renderer.
    impl Providers {
        /// A generation within a synchronous request's budget.
        async fn generate_sync(&self, plan: &GenerationPlan) -> Result<Served, ProviderError> {
            self.generate_within(plan, None, None, self.call()).await
        }
    }

    fn providers(
        fal: &MockServer,
        replicate: &MockServer,
        preference: &[ProviderKind],
    ) -> Providers {
        Providers {
            vendors: vec![
                Box::new(local::LocalProvider),
                Box::new(replicate::ReplicateProvider::new(&replicate.uri(), "r8")),
                Box::new(fal::FalProvider::new(&fal.uri(), "k")),
            ],
            preference: preference.to_vec(),
            budget: Duration::from_secs(20),
            max_retries: 2,
            circuits: Arc::new(circuits::LocalCircuits::default()),
            staging: None,
        }
    }

    fn plan(model: &str) -> GenerationPlan {
        serde_json::from_value::<CreateImageRequest>(json!({"prompt": "x", "model": model}))
            .unwrap()
            .plan("flux-dev", |_| true)
            .unwrap()
    }

    fn png() -> Vec<u8> {
        let img = RgbaImage::from_pixel(8, 8, imaging::Rgba([1, 2, 3, 255]));
        imaging::encode(&img, imaging::Format::Png, None).unwrap()
    }

    /// Replicate answering every prediction at once with an image of its own.
    async fn replicate_serving() -> MockServer {
        let server = MockServer::start().await;
        let url = format!("{}/files/out.png", server.uri());
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({
                "id": "p", "status": "succeeded", "output": [url],
                "urls": {"get": format!("{}/v1/predictions/p", server.uri())}})))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(png()))
            .mount(&server)
            .await;
        server
    }

    async fn answering(status: u16, body: serde_json::Value) -> MockServer {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .mount(&server)
            .await;
        server
    }

    async fn calls(server: &MockServer) -> usize {
        server.received_requests().await.unwrap().len()
    }

    #[tokio::test]
    async fn a_vendor_that_is_down_hands_over_to_the_next_at_once_and_the_answer_names_it() {
        let fal = answering(503, json!({"detail": "Service unavailable"})).await;
        let replicate = replicate_serving().await;
        let p = providers(&fal, &replicate, &[]);
        let served = p.generate_sync(&plan("flux-dev")).await.unwrap();
        assert_eq!(served.vendor, ProviderKind::Replicate);
        assert_eq!(served.images.len(), 1);
        assert_eq!(
            calls(&fal).await,
            1,
            "not retried while another vendor can serve"
        );
    }

    #[tokio::test]
    async fn a_vendor_refusing_our_key_or_credit_hands_over_too() {
        for status in [401, 402, 403] {
            let fal = answering(status, json!({"detail": "Exhausted balance"})).await;
            let replicate = replicate_serving().await;
            let served = providers(&fal, &replicate, &[])
                .generate_sync(&plan("flux-dev"))
                .await
                .unwrap();
            assert_eq!(served.vendor, ProviderKind::Replicate, "{status}");
        }
    }

    #[tokio::test]
    async fn a_content_refusal_is_final_and_the_next_vendor_is_never_called() {
        let fal = answering(
            422,
            json!({"detail": [{"msg": "flagged", "type": "content_policy_violation"}]}),
        )
        .await;
        let replicate = replicate_serving().await;
        let e = providers(&fal, &replicate, &[])
            .generate_sync(&plan("flux-dev"))
            .await
            .err()
            .unwrap();
        assert!(matches!(e, ProviderError::ContentPolicy(_)), "{e}");
        assert_eq!(calls(&replicate).await, 0);
    }

    #[tokio::test]
    async fn when_every_vendor_is_down_the_last_outage_is_reported() {
        let fal = answering(503, json!({"detail": "Service unavailable"})).await;
        let replicate = answering(500, json!({"detail": "boom", "status": 500})).await;
        let e = providers(&fal, &replicate, &[])
            .generate_sync(&plan("flux-dev"))
            .await
            .err()
            .unwrap();
        assert!(e.is_outage(), "{e}");
        assert_eq!(calls(&fal).await, 1);
        assert_eq!(calls(&replicate).await, 3, "the last vendor is retried");
    }

    #[tokio::test]
    async fn the_operators_preference_comes_before_cost_and_catalog_order() {
        let fal = answering(500, json!({"detail": "unused"})).await;
        let replicate = replicate_serving().await;
        let p = providers(&fal, &replicate, &[ProviderKind::Replicate]);
        let served = p.generate_sync(&plan("flux-schnell")).await.unwrap();
        assert_eq!(served.vendor, ProviderKind::Replicate);
        assert_eq!(calls(&fal).await, 0, "fal comes second");
        let unpreferred = providers(&fal, &replicate, &[]);
        let order: Vec<ProviderKind> = unpreferred
            .ordered(&plan("flux-schnell").routes)
            .iter()
            .map(|r| r.vendor)
            .collect();
        assert_eq!(
            order,
            [ProviderKind::Fal, ProviderKind::Replicate],
            "equal cost: catalog order"
        );
    }

    #[tokio::test]
    async fn repeated_outages_open_the_circuit_and_the_vendor_is_skipped() {
        let fal = answering(503, json!({"detail": "Service unavailable"})).await;
        let replicate = replicate_serving().await;
        let p = providers(&fal, &replicate, &[]);
        for _ in 0..crate::domain::circuits::THRESHOLD {
            assert_eq!(
                p.generate_sync(&plan("flux-dev")).await.unwrap().vendor,
                ProviderKind::Replicate
            );
        }
        assert_eq!(
            calls(&fal).await,
            crate::domain::circuits::THRESHOLD as usize
        );
        let served = p.generate_sync(&plan("flux-dev")).await.unwrap();
        assert_eq!(served.vendor, ProviderKind::Replicate);
        assert_eq!(
            calls(&fal).await,
            crate::domain::circuits::THRESHOLD as usize,
            "skipped while open"
        );
        // A model only the open vendor serves is refused as overloaded, with when to retry.
        let mut only_fal = Providers {
            circuits: p.circuits.clone(),
            ..providers(&fal, &replicate, &[])
        };
        only_fal
            .vendors
            .retain(|v| v.kind() != ProviderKind::Replicate);
        match only_fal
            .generate_sync(&plan("flux-dev"))
            .await
            .err()
            .unwrap()
        {
            ProviderError::RateLimited {
                retry_after_secs: Some(s),
            } => {
                assert!((1..=crate::domain::circuits::OPEN_SECS).contains(&s), "{s}")
            }
            e => panic!("{e}"),
        }
        assert_eq!(
            calls(&fal).await,
            crate::domain::circuits::THRESHOLD as usize
        );
    }
}

#[cfg(test)]
mod sizes {
    use super::*;

    /// A handler's future holds the provider call's: it must stay small enough for a 2 MB
    /// stack (test threads, and tokio's workers) with everything around it.
    #[test]
    fn the_provider_call_future_is_small() {
        let config = crate::config::Config::from_map(
            &[
                ("TABLE_NAME", "t"),
                ("BUCKET_NAME", "b"),
                ("QUEUE_URL", "http://q"),
                ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        )
        .unwrap();
        let providers = Providers::from_config(&config.vendors);
        let plan = serde_json::from_value::<crate::domain::generation::CreateImageRequest>(
            serde_json::json!({"prompt": "x"}),
        )
        .unwrap()
        .plan("local-procedural", |_| true)
        .unwrap();
        let call = providers.generate_within(&plan, None, None, providers.call());
        let size = std::mem::size_of_val(&call);
        assert!(size < 16 * 1024, "{size} bytes");
    }
}
