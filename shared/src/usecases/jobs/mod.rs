//! The job lifecycle in one folder. A job is submitted (`submit`, or `intake` for work other
//! systems queue), attempted by the worker (`run` for images, `video`), and ended once
//! (`lifecycle`: what every end gives back and announces); `view` is how it is shown. `steps` are
//! what a synchronous request and an attempt share: refuse, take under a hold, store, undo.

mod lifecycle;
mod view;

#[cfg(feature = "images")]
mod intake;
#[cfg(feature = "images")]
mod run;
#[cfg(feature = "images")]
pub mod steps;
#[cfg(feature = "images")]
mod submit;
#[cfg(all(feature = "images", feature = "video"))]
mod video;

pub use lifecycle::*;
pub use view::*;

#[cfg(feature = "images")]
pub use intake::*;
#[cfg(feature = "images")]
pub use run::*;
#[cfg(feature = "images")]
pub use submit::*;

#[cfg(test)]
mod tests;
