"""The built-in rules.  Each is registered in setup.cfg under ``clientcare.rules``, exactly as a
third-party rule would be; nothing here imports them."""
