"""ClientCare rules about sales quotations (an example of a third-party rule package)."""
