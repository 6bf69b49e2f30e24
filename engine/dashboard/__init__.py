"""The supervisor dashboard: a page of headline figures and charts over the campaign
report (engine.report_api), the abandon rate against each campaign's cap and the live
agents' states; engine.dashboard.web serves it, engine.dashboard.figures holds the pure
parts."""
