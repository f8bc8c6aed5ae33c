"""What did the model learn? Gate traces and saturation for recurrent cores (`gates`,
`saturation`); interpretable cells, token attributions and the `zoo-explain` entry point
build on them."""
