"""The demo (make demo): its measurements and the scripts that made them."""
