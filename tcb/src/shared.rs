//! TRUSTED. Heap values that generated code and helpers also reach through raw
//! pointers (the runtime, each domain's context, globals, function table,
//! capability table, call depth).
//!
//! Invariant protected: every pointer to such a value, the ones handed to
//! generated code and the references the runtime takes, derives from the one raw
//! pointer made when it was allocated. A `Box` would claim unique access for as
//! long as it lives, so a write by generated code through a pointer taken earlier
//! would invalidate it under Rust's aliasing rules (Miri with Tree Borrows shows
//! this); here the runtime holds only short-lived references, each dead before
//! generated code runs again.

use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// An owned heap value reached through raw pointers. Dropping it frees the value.
pub struct Shared<T: ?Sized> {
    ptr: NonNull<T>,
}

impl<T: ?Sized> Shared<T> {
    /// Take ownership of a boxed value.
    pub fn from_box(b: Box<T>) -> Shared<T> {
        Shared {
            ptr: NonNull::from(Box::leak(b)),
        }
    }

    /// The pointer generated code and helpers use.
    pub fn as_ptr(&self) -> *mut T {
        self.ptr.as_ptr()
    }
}

impl<T> Shared<T> {
    pub fn new(value: T) -> Shared<T> {
        Shared::from_box(Box::new(value))
    }
}

impl<T: ?Sized> Deref for Shared<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the value lives until `drop`; generated code does not run while
        // the runtime holds this reference (it is not `Send`, and the runtime calls
        // generated code only with no reference into these values live).
        unsafe { self.ptr.as_ref() }
    }
}

impl<T: ?Sized> DerefMut for Shared<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes it the only reference.
        unsafe { self.ptr.as_mut() }
    }
}

impl<T: ?Sized> Drop for Shared<T> {
    fn drop(&mut self) {
        // SAFETY: made by `Box::leak` in `from_box`, dropped once, and nothing runs
        // generated code after its runtime is dropped.
        drop(unsafe { Box::from_raw(self.ptr.as_ptr()) });
    }
}
