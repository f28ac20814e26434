//! Placeholder: the plugin-side host driver lands with the core Companion.
