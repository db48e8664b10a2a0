"""Fit objects and their rendering, shared by every engine.

- base.MixedFit: the common surface (se, varcorr, ranef, ranef_sd, fitted, residuals, predict, icc) over
  a subclass's beta / effects / vcov / conditional_covariances / covariance_blocks / residual_sd.
- lmm.LmmFit: the REML/ML fit of a linear mixed model.
- varcorr.varcorr_frame, ranef.ranef_frames, prediction.linear_predictor_new: the generic tables and
  predictions; summary.FitSummary and render: lme4-style text; advice: messages about numerical trouble.
"""
