"""Engagement: campaigns, the one decision point for messages, coupons."""
