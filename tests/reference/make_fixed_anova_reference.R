# lmerTest / pbkrtest / car reference values for bayesmixed.inference.fixed_anova
#   -> tests/reference/fixed_anova_reference.json and the data CSVs fixed_anova_*.csv beside it.
# Run from the repository root: Rscript tests/reference/make_fixed_anova_reference.R
# The data are written to CSV first and read back, so that R and Python fit exactly the same rows.
suppressPackageStartupMessages({library(lmerTest); library(pbkrtest); library(car); library(jsonlite)})

ref_dir <- "tests/reference"
csv_path <- function(name) file.path(ref_dir, paste0("fixed_anova_", name, ".csv"))

# lme4's cake (balanced 3 x 6 with replicates); temperature as a plain (unordered) factor.
cake_data <- lme4::cake[, c("replicate", "recipe", "temperature", "angle")]
cake_data$temperature <- factor(as.character(cake_data$temperature), levels = levels(lme4::cake$temperature),
                                ordered = FALSE)
# sleepstudy with a Days block factor (unequal block sizes), a subject-level group and rows dropped.
sleep <- lme4::sleepstudy
sleep$block <- factor(c("early", "middle", "late")[pmin(sleep$Days %/% 4, 2) + 1], levels = c("early", "middle", "late"))
sleep$group <- factor(ifelse(as.integer(sleep$Subject) <= 10, "A", "B"))
sleep <- sleep[(as.integer(sleep$Subject) * 7 + sleep$Days) %% 11 != 0, ]
# A split plot: whole-plot factor A (3 levels) within block, split-plot factor B (2 levels), a covariate x;
# unbalanced by dropping rows.
set.seed(20261130)
split <- expand.grid(rep = 1:2, B = c("b1", "b2"), A = c("a1", "a2", "a3"), block = paste0("k", 1:8))
split$x <- round(rnorm(nrow(split), 10, 2), 2)
block_effect <- rnorm(8, 0, 2)[as.integer(factor(split$block))]
plot_effect <- rnorm(24, 0, 1.5)[as.integer(interaction(split$block, split$A))]
split$y <- round(20 + c(0, 1.5, 2.5)[as.integer(split$A)] + 0.8 * (split$B == "b2") + 0.3 * split$x
                 - 0.2 * split$x * (split$A == "a3") + block_effect + plot_effect + rnorm(nrow(split)), 3)
split <- split[runif(nrow(split)) > 0.15, c("block", "A", "B", "x", "y")]
# A binomial GLMM with two crossed factors, a covariate and a random intercept (unbalanced).
set.seed(11301)
binom <- expand.grid(rep = 1:3, A = c("a1", "a2", "a3"), B = c("b1", "b2"), g = paste0("g", 1:12))
binom$x <- round(rnorm(nrow(binom)), 2)
eta <- -0.3 + c(0, 0.6, -0.4)[as.integer(binom$A)] + 0.5 * (binom$B == "b2") + 0.4 * binom$x +
  0.5 * (binom$A == "a2") * (binom$B == "b2") + rnorm(12, 0, 0.7)[as.integer(factor(binom$g))]
binom$y <- rbinom(nrow(binom), 1, plogis(eta))
binom <- binom[runif(nrow(binom)) > 0.1, c("g", "A", "B", "x", "y")]

# Prior weights for a weighted fit of the split plot (residual variance σ²/w).
split$w <- 1 + seq_len(nrow(split)) %% 3
write.csv(cake_data, csv_path("cake"), row.names = FALSE)
write.csv(sleep, csv_path("sleep"), row.names = FALSE)
write.csv(split, csv_path("split"), row.names = FALSE)
write.csv(binom, csv_path("binom"), row.names = FALSE)
read_back <- function(name, levels) {
  d <- read.csv(csv_path(name), stringsAsFactors = FALSE)
  for (col in names(levels)) d[[col]] <- factor(d[[col]], levels = levels[[col]])
  d
}
cake_data <- read_back("cake", list(replicate = as.character(1:15), recipe = c("A", "B", "C"),
                                    temperature = c("175", "185", "195", "205", "215", "225")))
sleep <- read_back("sleep", list(Subject = levels(lme4::sleepstudy$Subject), block = c("early", "middle", "late"),
                                 group = c("A", "B")))
split <- read_back("split", list(block = paste0("k", 1:8), A = c("a1", "a2", "a3"), B = c("b1", "b2")))
binom <- read_back("binom", list(g = paste0("g", 1:12), A = c("a1", "a2", "a3"), B = c("b1", "b2")))

table_of <- function(a) list(terms = rownames(a), sum_sq = unname(a[["Sum Sq"]]), mean_sq = unname(a[["Mean Sq"]]),
                             num_df = unname(a$NumDF), den_df = unname(a$DenDF), f = unname(a[["F value"]]),
                             p = unname(a[["Pr(>F)"]]))
# lme4's drop1(fit, test = "Chisq"): the terms no other term contains, each dropped and the model refitted.
drop1_of <- function(a) list(terms = rownames(a), npar = unname(a$npar), aic = unname(a$AIC), lrt = unname(a$LRT),
                             p = unname(a[["Pr(Chi)"]]))
lmm_cases <- list(
  list(id = "cake", data = "cake", formula = "angle ~ recipe * temperature + (1 | recipe:replicate)", REML = TRUE),
  list(id = "sleep", data = "sleep", formula = "Reaction ~ block * group + (Days | Subject)", REML = TRUE),
  list(id = "split", data = "split", formula = "y ~ A * B + x + A:x + (1 | block) + (1 | block:A)", REML = TRUE),
  list(id = "split_ml", data = "split", formula = "y ~ A * B + x + A:x + (1 | block) + (1 | block:A)", REML = FALSE),
  list(id = "split_weighted", data = "split", formula = "y ~ A * B + (1 | block)", REML = TRUE, weights = "w"),
  list(id = "split_no_intercept", data = "split", formula = "y ~ 0 + A + x + (1 | block)", REML = TRUE),
  list(id = "split_covariate", data = "split", formula = "y ~ A + x * B + (1 | block)", REML = TRUE),
  list(id = "split_poly", data = "split", formula = "y ~ A * poly(x, 2) + (1 | block)", REML = TRUE),
  list(id = "split_empty_cell", data = "split_empty_cell", formula = "y ~ A * B + (1 | block)", REML = TRUE)
)
datasets <- list(cake = cake_data, sleep = sleep, split = split, binom = binom,
                 split_empty_cell = split[!(split$A == "a3" & split$B == "b2"), ])
out <- list(R_version = R.version.string, lme4_version = as.character(packageVersion("lme4")),
            lmerTest_version = as.character(packageVersion("lmerTest")),
            pbkrtest_version = as.character(packageVersion("pbkrtest")),
            car_version = as.character(packageVersion("car")), lmm = list(), glmm = list())
for (case in lmm_cases) {
  fit_case <- function() {
    d <- datasets[[case$data]]
    if (is.null(case$weights)) lmer(as.formula(case$formula), d, REML = case$REML)
    else lmer(as.formula(case$formula), d, REML = case$REML, weights = d[[case$weights]])
  }
  fit <- suppressMessages(fit_case())
  tables <- list()
  for (type in c("III", "II", "I")) {
    tables[[paste0(type, "_Satterthwaite")]] <- table_of(suppressMessages(anova(fit, type = type, ddf = "Satterthwaite")))
    if (case$REML) tables[[paste0(type, "_Kenward-Roger")]] <- table_of(anova(fit, type = type, ddf = "Kenward-Roger"))
  }
  # Sum-to-zero coding gives the same type III table (lmerTest maps its hypotheses to the coding used).
  options(contrasts = c("contr.sum", "contr.poly"))
  sum_fit <- suppressMessages(fit_case())
  options(contrasts = c("contr.treatment", "contr.poly"))
  tables[["III_Satterthwaite_sum_coding"]] <- table_of(anova(sum_fit, type = "III"))
  if (!case$REML && is.null(case$weights)) tables[["drop1"]] <- drop1_of(drop1(as(fit, "lmerMod"), test = "Chisq"))
  out$lmm[[case$id]] <- c(case, list(loglik = as.numeric(logLik(fit)), tables = tables))
}
# car::Anova's Wald chi-square tests; type III with sum-to-zero coding (car's type III tests the coded
# coefficients, which are the coding-free type III hypotheses only under sum-to-zero contrasts).
wald_of <- function(a) list(terms = rownames(a), chisq = unname(a$Chisq), df = unname(a$Df), p = unname(a[["Pr(>Chisq)"]]))
glmm_formula <- "y ~ A * B + x + (1 | g)"
fit <- glmer(as.formula(glmm_formula), binom, family = binomial)
options(contrasts = c("contr.sum", "contr.poly"))
sum_fit <- glmer(as.formula(glmm_formula), binom, family = binomial)
options(contrasts = c("contr.treatment", "contr.poly"))
type3 <- Anova(sum_fit, type = 3)
out$glmm$binom <- list(id = "binom", data = "binom", formula = glmm_formula, family = "binomial",
                       loglik = as.numeric(logLik(fit)), II = wald_of(Anova(fit, type = 2)),
                       III = wald_of(type3[rownames(type3) != "(Intercept)", ]),
                       drop1 = drop1_of(drop1(fit, test = "Chisq")))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null"), file.path(ref_dir, "fixed_anova_reference.json"))
