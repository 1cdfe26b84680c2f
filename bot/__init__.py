"""Sleeve chat front ends and their feedback store."""
