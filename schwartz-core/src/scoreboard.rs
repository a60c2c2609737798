//! Scoreboard files (TheSchwartz's worker monitoring files). SKELETON.
