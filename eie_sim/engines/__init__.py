"""Engines: one subpackage per accelerator. Engines only count; energy is priced afterwards."""
