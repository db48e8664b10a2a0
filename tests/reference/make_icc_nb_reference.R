# ICC and Nakagawa R² references for count families -> tests/reference/icc_nb_reference.json
# performance::icc and performance::r2_nakagawa (performance 0.10.2, insight 0.19.0; Debian bookworm's r-cran-*),
# lme4 glmer (Poisson) and glmmTMB (nbinom2).  Run from the repository root: Rscript tests/reference/make_icc_nb_reference.R
# insight's distribution-specific variance: log1p(V(mu)/mu^2) with mu = exp(intercept of the intercept-only refit
# with the same random effects): Poisson log1p(1/mu); nbinom2 log1p(1/mu + 1/theta), theta = sigma() of the full fit.
# The ICC is computed from the same variances: var_random / (var_random + var_distribution).
suppressPackageStartupMessages({library(lme4); library(glmmTMB); library(performance); library(insight); library(jsonlite)})

grouse <- read.csv("tests/reference/grouseticks.csv"); grouse$BROOD <- factor(grouse$BROOD)
grouse$YEAR <- factor(grouse$YEAR); grouse$LOCATION <- factor(grouse$LOCATION)
sal <- read.csv("tests/reference/salamanders.csv"); sal$site <- factor(sal$site)

one <- function(fit, formula, data, family) {
  r2 <- r2_nakagawa(fit, tolerance = 1e-10)
  icc <- icc(fit, tolerance = 1e-10)
  v <- get_variance(fit, tolerance = 1e-10)
  nullfit <- null_model(fit)
  null_intercept <- unname(if (inherits(fit, "glmmTMB")) fixef(nullfit)$cond else fixef(nullfit))
  list(formula = formula, data = data, family = family,
       icc_adjusted = unname(icc$ICC_adjusted), icc_conditional = unname(icc$ICC_conditional),
       marginal = unname(r2$R2_marginal), conditional = unname(r2$R2_conditional),
       var_fixed = unname(v$var.fixed), var_random = unname(v$var.random),
       var_distribution = unname(v$var.distribution), null_intercept = null_intercept,
       theta = if (family == "negbin") sigma(fit) else NULL)
}

cases <- list(
  one(glmer(TICKS ~ YEAR + cHEIGHT + (1 | BROOD), grouse, family = poisson),
      "TICKS ~ YEAR + cHEIGHT + (1 | BROOD)", "grouseticks", "poisson"),
  one(glmmTMB(count ~ mined + (1 | site), sal, family = nbinom2),
      "count ~ mined + (1 | site)", "salamanders", "negbin"),
  one(glmmTMB(TICKS ~ YEAR + cHEIGHT + (1 | BROOD), grouse, family = nbinom2),
      "TICKS ~ YEAR + cHEIGHT + (1 | BROOD)", "grouseticks", "negbin")
)
write(toJSON(list(generator = "tests/reference/make_icc_nb_reference.R",
                  performance = as.character(packageVersion("performance")),
                  insight = as.character(packageVersion("insight")), lme4 = as.character(packageVersion("lme4")),
                  glmmTMB = as.character(packageVersion("glmmTMB")), cases = cases),
           auto_unbox = TRUE, digits = NA, pretty = TRUE),
      "tests/reference/icc_nb_reference.json")
