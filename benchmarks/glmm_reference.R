# Extra glmer reference values for bayesmixed's GLMM engine -> tests/reference/glmm_extra.json
# Run from the repository root: Rscript benchmarks/glmm_reference.R   (lme4 1.1-31, R 4.2)
# Note: for nAGQ > 1 lme4's -2 logLik leaves out the saturated-model constant that its Laplace value
# includes; the values are stored exactly as glmer reports them.
suppressPackageStartupMessages({library(lme4); library(jsonlite)})

summarise_fit <- function(f) {
  re <- ranef(f, condVar = TRUE)
  list(
    formula = deparse1(formula(f)), nAGQ = f@devcomp$dims[["nAGQ"]],
    family = family(f)$family, link = family(f)$link,
    minus2loglik = -2 * as.numeric(logLik(f)), deviance = deviance(f),
    theta = unname(getME(f, "theta")), theta_names = names(getME(f, "theta")),
    fixef = as.list(fixef(f)), se = as.list(sqrt(diag(as.matrix(vcov(f))))),
    ranef = lapply(names(re), function(g) list(
      group = g, levels = rownames(re[[g]]), terms = colnames(re[[g]]),
      values = unname(as.matrix(re[[g]])),
      condsd = matrix(t(apply(attr(re[[g]], "postVar"), 3, function(v) sqrt(diag(as.matrix(v))))), nrow = nrow(re[[g]])))),
    residuals = list(deviance = unname(residuals(f, "deviance")), pearson = unname(residuals(f, "pearson")),
                     response = unname(residuals(f, "response"))),
    fitted = unname(fitted(f)), linear_predictor = unname(predict(f, type = "link")))
}

out <- list(lme4_version = as.character(packageVersion("lme4")), R_version = R.version.string, fits = list())

cbpp_formula <- cbind(incidence, size - incidence) ~ period + (1 | herd)
for (k in c(1, 2, 3, 5, 9, 25)) {
  out$fits[[paste0("cbpp_agq", k)]] <- summarise_fit(glmer(cbpp_formula, cbpp, binomial, nAGQ = k))
}
for (link in c("probit", "cloglog")) {
  out$fits[[paste0("cbpp_", link)]] <- summarise_fit(glmer(cbpp_formula, cbpp, binomial(link = link)))
}
cbpp_null <- glmer(cbind(incidence, size - incidence) ~ 1 + (1 | herd), cbpp, binomial)
out$fits$cbpp_null <- summarise_fit(cbpp_null)
lrt <- anova(cbpp_null, glmer(cbpp_formula, cbpp, binomial))
out$lrt <- list(list(id = "cbpp_period", small = "cbind(incidence, size - incidence) ~ 1 + (1 | herd)",
                     big = "cbind(incidence, size - incidence) ~ period + (1 | herd)",
                     chisq = lrt$Chisq[2], df = lrt$Df[2], p = lrt[["Pr(>Chisq)"]][2]))

pois <- read.csv("tests/reference/glmm_poisson_sim.csv")
pois$g <- factor(pois$g)
out$fits$poisson_slopes <- summarise_fit(glmer(y ~ x + offset(log(exposure)) + (1 + x | g), pois, poisson))
out$fits$poisson_intercept_agq9 <- summarise_fit(glmer(y ~ x + offset(log(exposure)) + (1 | g), pois, poisson, nAGQ = 9))
out$fits$poisson_intercept <- summarise_fit(glmer(y ~ x + offset(log(exposure)) + (1 | g), pois, poisson))

verb_formula <- r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)
verb <- glmer(verb_formula, VerbAgg, binomial)
out$fits$verbagg <- summarise_fit(verb)
out$fits$verbagg$residuals <- NULL
out$fits$verbagg$fitted <- NULL
out$fits$verbagg$linear_predictor <- NULL

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "tests/reference/glmm_extra.json")
