"""Sync protocol for the offline-first PWA (DESIGN section 9): change-cursor pull, outbox push."""
