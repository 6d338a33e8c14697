"""The experts server: a circle of LLM providers asked in parallel, with a measured consensus."""
