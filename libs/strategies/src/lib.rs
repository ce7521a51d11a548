//! veloz-strategies: built-in strategies (being built).
