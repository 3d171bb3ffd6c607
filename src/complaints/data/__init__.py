"""The tweets: downloads verified by SHA-256, strict reading, the tutorial's split, the external labeled set."""
