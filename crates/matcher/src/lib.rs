//! Compiled indicator sets and parallel log scanners. No database.
