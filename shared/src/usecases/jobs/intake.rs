//! Work other systems send to the generation queue (`QueueSubmission`): validated like the HTTP
//! request it stands for, deduplicated by its reference, and submitted as a job.

use crate::domain::accounts::Principal;
use crate::domain::catalog::Size;
use crate::domain::generation::Operation;
use crate::domain::jobs::{Job, JobOperation};
use crate::error::ApiError;
use crate::messages::QueueSubmission;
use crate::ports::{Blobs, Store};
use crate::providers::{EditInputs, InputImage};
use crate::usecases::Deps;
use crate::usecases::edit_inputs::{ImageSource, load_all};
use crate::usecases::jobs::{Submission, Work, submit};

/// What became of a submission from the queue.
#[derive(Debug)]
pub enum Accepted {
    Queued(Box<Job>),
    /// Not valid (named in the error): it is announced as `Submission Refused` and dropped.
    Refused(ApiError),
}

/// Validates and charges a submission from the queue, and queues its job. A store failure is
/// returned (the message comes back); a bad submission is [`Accepted::Refused`].
pub async fn accept<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    sub: QueueSubmission,
) -> Result<Accepted, ApiError> {
    // Storage failures and a duplicate still being submitted come back later; the rest is
    // the submission's fault.
    let refused = |e: ApiError| {
        if matches!(e, ApiError::Internal(_)) || crate::usecases::idempotency::in_progress(&e) {
            Err(e)
        } else {
            Ok(Accepted::Refused(e))
        }
    };
    let user = if crate::domain::plausible_id(&sub.user_id) {
        deps.store.user(&sub.user_id).await?
    } else {
        None
    };
    let Some(user) = user else {
        return refused(ApiError::invalid(
            "user_id",
            format!("no user with id '{}'", sub.user_id),
        ));
    };
    let who = Principal {
        user_id: user.id.clone(),
        role: user.role,
        credential: crate::domain::accounts::Credential::Queue,
    };
    let canonical = serde_json::to_value(&sub)
        .map_err(ApiError::internal)?
        .to_string();
    let key = format!("queue:{}", sub.reference);
    let planned = plan_submission(deps, &who.user_id, sub).await;
    let submission = match planned {
        Ok(s) => s,
        Err(e) => return refused(e),
    };
    // A quote is an answer, and a queued submission gets none but its job's announcements.
    if submission.fields.dry_run == Some(true) {
        return refused(ApiError::invalid(
            "dry_run",
            "a queued submission cannot be a quote: ask the HTTP API with dry_run instead",
        ));
    }
    let submitted =
        crate::usecases::idempotency::claimed(deps, &who, Some(&key), &canonical, |claim| async {
            submit(deps, &who, submission, claim)
                .await
                .map(crate::usecases::idempotency::Submitted::Job)
        })
        .await;
    match submitted {
        Ok(crate::usecases::idempotency::Submitted::Job(job)) => {
            Ok(Accepted::Queued(Box::new(job)))
        }
        Ok(
            crate::usecases::idempotency::Submitted::Images(_)
            | crate::usecases::idempotency::Submitted::Quote(_),
        ) => refused(ApiError::Conflict {
            message: "this reference was used for a synchronous request".into(),
            param: Some("reference".into()),
        }),
        Err(e) => refused(e),
    }
}

/// The submission's plan and inputs, checked as the HTTP handlers check them.
pub(super) async fn plan_submission<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    user_id: &str,
    sub: QueueSubmission,
) -> Result<Submission, ApiError> {
    let default_model = deps.providers.default_model();
    let serves = |k| deps.providers.serves(k);
    let mut sources: Vec<(String, ImageSource)> = sub
        .images
        .iter()
        .enumerate()
        .map(|(i, id)| (format!("images[{i}]"), ImageSource::Asset(id.clone())))
        .collect();
    let has_mask = sub.mask.is_some();
    sources.extend(
        sub.mask
            .map(|m| ("mask".to_string(), ImageSource::Asset(m))),
    );
    let mut loaded = load_all(deps, user_id, sources).await?;
    let mask = if has_mask { loaded.pop() } else { None };
    let size = |i: &InputImage| {
        let (w, h) = i.rgba.dimensions();
        Size::new(w, h)
    };
    let (op, images, mask) = match sub.operation {
        JobOperation::Video => {
            return Err(ApiError::invalid(
                "operation",
                "videos are made with POST /v1/videos",
            ));
        }
        JobOperation::Generation if loaded.is_empty() && mask.is_none() => {
            (Operation::Generate, Vec::new(), None)
        }
        JobOperation::Generation => {
            return Err(ApiError::invalid("images", "a generation takes no images"));
        }
        JobOperation::Variation if loaded.len() == 1 && mask.is_none() => (
            Operation::Variation {
                input: size(&loaded[0]),
            },
            loaded,
            None,
        ),
        JobOperation::Variation => {
            return Err(ApiError::invalid(
                "images",
                "a variation takes exactly one image and no mask",
            ));
        }
        JobOperation::Edit => {
            let first = loaded.first().ok_or_else(|| ApiError::missing("images"))?;
            let op = Operation::Edit {
                images: loaded.len(),
                input: size(first),
            };
            (op, loaded, mask)
        }
    };
    let plan = sub.request.clone().plan_for(op, default_model, serves)?;
    let inputs = EditInputs { images, mask };
    if sub.operation == JobOperation::Edit {
        crate::usecases::edit_inputs::check_edit(&plan, &inputs, "mask")?;
    }
    Ok(Submission {
        operation: sub.operation,
        fields: sub.request,
        work: Work::Images(plan),
        images: inputs.images,
        mask: inputs.mask,
    })
}
