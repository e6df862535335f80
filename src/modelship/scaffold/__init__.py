"""`modelship init`: scaffold the pipeline in a user's repository.

`detect` reads what the repository holds, `plan` turns that and the flags into
every choice of the pipeline, `render` fills the pipeline templates, `smoke`
drafts a smoke-test payload and `write` puts the files in place without ever
overwriting one unasked.
"""
