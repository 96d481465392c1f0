"""Programs with control flow, used as test inputs by the control-flow tests."""
