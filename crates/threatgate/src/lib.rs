//! threatgate application
