"""What tests share (servers, tiny models, training runs, equivalence checks), imported as
`helpers.<module>`: a test module never imports another test module."""
