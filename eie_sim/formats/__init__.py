"""Storage formats: fixed point, EIE's interleaved CSC."""
