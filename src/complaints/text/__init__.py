"""From text to token ids: the cleaning, which encoder (and the teacher's pinned weights), the tokenizer call, the token file."""
