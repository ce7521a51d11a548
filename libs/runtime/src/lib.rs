//! veloz-runtime: the kernel (being built).
