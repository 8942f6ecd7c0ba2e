"""LearningHub, the kernel: teams, memberships, tokens, the access policy, periods, change events."""
