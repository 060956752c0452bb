//! What a paid request is charged, kept safe from a killed Lambda (`charges`), and the sweeper
//! that settles or gives back what was left behind (`sweep`, which ends expired jobs through
//! `jobs::lifecycle`, never the reverse).

pub mod charges;
pub mod sweep;
