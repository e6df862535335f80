"""The platform boundary: inputs, outputs, summaries, annotations and masking."""
