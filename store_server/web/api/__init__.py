"""The JSON API: one blueprint module per URL resource."""
