"""One router per family of the contract."""
